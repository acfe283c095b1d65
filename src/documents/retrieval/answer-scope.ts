import { Injectable } from '@nestjs/common';
import type { Identity } from '../../common/identity.js';
import type { Queryable } from '../../database/sql.js';
import { projectNotFound } from '../../projects/projects.service.js';
import { ProjectsRepository } from '../../projects/projects.repository.js';
import { DocumentsRepository } from '../documents.repository.js';
import type { SearchScope } from './search-scope.js';

export interface AnswerScopeRequest {
  identity: Identity;
  // The user message being answered (already sent in the same transaction).
  userMessageId: string;
  // A new chat's project (send's project_id).
  newChatProjectId?: string;
  // use_documents (default true).
  useDocuments?: boolean;
}

// Where an answer searches, settled inside the turn's pipelined transaction: the statements go
// out behind the turn's own and are answered in the same round trip.
@Injectable()
export class AnswerScopes {
  constructor(
    private readonly projects: ProjectsRepository,
    private readonly documents: DocumentsRepository,
  ) {}

  // Resolves with the scope to search, or null when there is nothing to search (use_documents
  // false, or no ready document in the scope). Rejects with PROJECT_NOT_FOUND when the new
  // chat's project is not the identity's: the caller then rolls the turn back.
  resolveIn(tx: Queryable, request: AnswerScopeRequest): Promise<SearchScope | null> {
    const attaching = request.newChatProjectId ? this.projects.attachChat(tx, request.userMessageId, request.newChatProjectId, request.identity) : Promise.resolve(true);
    const scoping = request.useDocuments === false ? Promise.resolve(null) : this.documents.scopeOfMessage(tx, request.userMessageId, request.identity);
    return Promise.allSettled([attaching, scoping]).then(([attached, scoped]) => {
      if (attached.status === 'rejected') throw attached.reason;
      if (!attached.value) throw projectNotFound();
      if (scoped.status === 'rejected') throw scoped.reason;
      const scope = scoped.value;
      return scope?.searchable ? { owner: request.identity, projectId: scope.projectId } : null;
    });
  }
}
