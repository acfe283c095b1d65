import { Transform } from 'class-transformer';
import { IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { lower, trim } from '../../common/transforms.js';
import { ProjectView } from '../project-view.js';

export class CreateProjectDto {
  @Transform(trim) @IsString() @MinLength(1, { message: 'name must not be empty' }) @MaxLength(200)
  name: string;
}

export class RenameProjectDto {
  @Transform(trim) @IsString() @MinLength(1, { message: 'name must not be empty' }) @MaxLength(200)
  name: string;
}

export class ProjectIdParam {
  @Transform(lower) @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

// The payload of join_project / leave_project.
export class ProjectIdDto {
  @Transform(lower) @IsUUID('all', { message: 'project_id must be a UUID' })
  project_id: string;
}

export class ProjectEnvelope {
  project: ProjectView;
}

export class ProjectsList {
  projects: ProjectView[];
}
