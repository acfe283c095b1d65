import { Body, Controller, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiIdentity, ApiRefusals, IDENTITY_REFUSALS } from '../openapi/api-docs.js';
import { CurrentIdentity, IdentityGuard } from '../auth/identity.guard.js';
import type { Identity } from '../common/identity.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { CreateProjectDto, ProjectEnvelope, ProjectIdParam, ProjectsList, RenameProjectDto } from './dto/project.dto.js';
import { ProjectsService } from './projects.service.js';

@ApiTags('projects')
@ApiIdentity()
@Controller('api/v1/projects')
@UseGuards(IdentityGuard, RateLimitGuard)
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a project (its documents are searched by the chats created in it)' })
  @ApiCreatedResponse({ type: ProjectEnvelope })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.RATE_LIMITED)
  create(@Body() dto: CreateProjectDto, @CurrentIdentity() identity: Identity): Promise<ProjectEnvelope> {
    return this.projects.create(identity, dto.name);
  }

  @Get()
  @ApiOperation({ summary: "The identity's projects, with their document counts" })
  @ApiOkResponse({ type: ProjectsList })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.RATE_LIMITED)
  list(@CurrentIdentity() identity: Identity): Promise<ProjectsList> {
    return this.projects.list(identity);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One project' })
  @ApiOkResponse({ type: ProjectEnvelope })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.PROJECT_NOT_FOUND, ErrorCode.RATE_LIMITED)
  get(@Param() params: ProjectIdParam, @CurrentIdentity() identity: Identity): Promise<ProjectEnvelope> {
    return this.projects.get(identity, params.id);
  }

  // The room hears of it as project_updated {type: "renamed"}.
  @Patch(':id')
  @ApiOperation({ summary: 'Rename a project (its room is told: project_updated, renamed)' })
  @ApiOkResponse({ type: ProjectEnvelope })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.PROJECT_NOT_FOUND, ErrorCode.RATE_LIMITED)
  rename(@Param() params: ProjectIdParam, @Body() dto: RenameProjectDto, @CurrentIdentity() identity: Identity): Promise<ProjectEnvelope> {
    return this.projects.rename(identity, params.id, dto.name);
  }
}
