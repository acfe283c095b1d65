import { Transform } from 'class-transformer';
import { IsOptional, IsUUID } from 'class-validator';
import { lower } from '../../common/transforms.js';
import { DocumentView } from '../document-view.js';

const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : typeof value === 'string' ? value.toLowerCase() : value);

// The text fields of POST /api/v1/documents (multipart/form-data), beside the `file` part.
export class UploadDocumentFields {
  @Transform(emptyToUndefined) @IsOptional() @IsUUID('all', { message: 'project_id must be a UUID' })
  project_id?: string;
}

export class ListDocumentsQuery {
  @Transform(emptyToUndefined) @IsOptional() @IsUUID('all', { message: 'project_id must be a UUID' })
  project_id?: string;
}

export class DocumentIdParam {
  @Transform(lower) @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

export class DocumentEnvelope {
  document: DocumentView;
}

export class DocumentsList {
  documents: DocumentView[];
}
