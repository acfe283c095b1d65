import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { Identity } from '../common/identity.js';
import { Sql } from '../database/sql.js';
import { toProjectView, type ProjectView } from './project-view.js';
import { ProjectsRepository } from './projects.repository.js';

// Projects for every transport. A foreign project and an unknown one get the same answer.
@Injectable()
export class ProjectsService {
  constructor(
    private readonly projects: ProjectsRepository,
    private readonly sql: Sql,
    private readonly events: DomainEvents,
  ) {}

  async create(owner: Identity, name: string): Promise<{ project: ProjectView }> {
    return { project: toProjectView(await this.projects.create(owner, name)) };
  }

  async list(owner: Identity): Promise<{ projects: ProjectView[] }> {
    return { projects: (await this.projects.listOwned(owner)).map(toProjectView) };
  }

  async get(owner: Identity, projectId: string): Promise<{ project: ProjectView }> {
    const row = await this.projects.findOwned(this.sql, projectId, owner);
    if (!row) throw projectNotFound();
    return { project: toProjectView(row) };
  }

  async rename(owner: Identity, projectId: string, name: string): Promise<{ project: ProjectView }> {
    const row = await this.projects.rename(projectId, owner, name);
    if (!row) throw projectNotFound();
    const project = toProjectView(row);
    this.events.emit('project.updated', { update: { project_id: project.id, type: 'renamed', data: { project } } });
    return { project };
  }

  // Which of these projects the owner has (a recovered socket's rooms are checked with it).
  owned(owner: Identity, projectIds: readonly string[]): Promise<string[]> {
    return this.projects.ownedIds(projectIds, owner);
  }

  async require(owner: Identity, projectId: string): Promise<void> {
    if ((await this.projects.ownedIds([projectId], owner)).length === 0) throw projectNotFound();
  }
}

export const projectNotFound = () => new AppException(ErrorCode.PROJECT_NOT_FOUND, 'Project not found');
