import { Injectable } from '@nestjs/common';
import { ownerColumn, ownerColumns, type Identity } from '../common/identity.js';
import { Sql, type Queryable } from '../database/sql.js';
import type { ProjectRow } from './project-view.js';

// How many projects a listing returns at most: a project picker, not a report.
export const MAX_LISTED_PROJECTS = 1000;

const COUNTED = `(SELECT count(*)::int FROM documents d WHERE d.project_id = p.id) AS document_count`;

// Projects. Every statement names the owner: a foreign project reads exactly like an unknown one.
@Injectable()
export class ProjectsRepository {
  constructor(private readonly sql: Sql) {}

  async create(owner: Identity, name: string): Promise<ProjectRow> {
    const { userId, anonId } = ownerColumns(owner);
    const [row] = await this.sql.query<ProjectRow>(
      `INSERT INTO projects (user_id, anon_id, name) VALUES ($1, $2, $3) RETURNING id, name, created_at, updated_at, 0 AS document_count`,
      [userId, anonId, name],
    );
    return row;
  }

  listOwned(owner: Identity): Promise<ProjectRow[]> {
    const { column, id } = ownerColumn(owner);
    return this.sql.query<ProjectRow>(
      `SELECT p.id, p.name, p.created_at, p.updated_at, ${COUNTED}
       FROM projects p WHERE p.${column} = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT ${MAX_LISTED_PROJECTS}`,
      [id],
    );
  }

  async findOwned(q: Queryable, projectId: string, owner: Identity): Promise<ProjectRow | null> {
    const { column, id } = ownerColumn(owner);
    const [row] = await q.query<ProjectRow>(`SELECT p.id, p.name, p.created_at, p.updated_at, ${COUNTED} FROM projects p WHERE p.id = $1 AND p.${column} = $2`, [projectId, id]);
    return row ?? null;
  }

  // Of these project ids, the ones this owner has (one statement, however many).
  async ownedIds(projectIds: readonly string[], owner: Identity): Promise<string[]> {
    if (projectIds.length === 0) return [];
    const { column, id } = ownerColumn(owner);
    const rows = await this.sql.query<{ id: string }>(`SELECT p.id FROM projects p WHERE p.id = ANY($1::uuid[]) AND p.${column} = $2`, [projectIds, id]);
    return rows.map((r) => r.id);
  }

  async rename(projectId: string, owner: Identity, name: string): Promise<ProjectRow | null> {
    const { column, id } = ownerColumn(owner);
    const [row] = await this.sql.query<ProjectRow>(
      `UPDATE projects p SET name = $3, updated_at = now() WHERE p.id = $1 AND p.${column} = $2 RETURNING p.id, p.name, p.created_at, p.updated_at, ${COUNTED}`,
      [projectId, id, name],
    );
    return row ?? null;
  }

  // Puts the chat of a just-stored user message into the owner's project. Sent in the turn's
  // pipelined transaction after the insert, so it reads the new chat; false when the project is
  // not the owner's (the caller rolls the turn back).
  async attachChat(q: Queryable, userMessageId: string, projectId: string, owner: Identity): Promise<boolean> {
    const { column, id } = ownerColumn(owner);
    const rows = await q.query(
      `UPDATE chats c SET project_id = p.id
       FROM projects p
       WHERE c.id = (SELECT chat_id FROM messages WHERE id = $1) AND c.${column} = $3 AND p.id = $2 AND p.${column} = $3
       RETURNING c.id`,
      [userMessageId, projectId, id],
    );
    return rows.length > 0;
  }

  // Sign-up or login with an anonymous id: the visitor's projects move to the user (their
  // documents move with documents.repository's transferAnonymous, in the same transaction).
  async transferAnonymous(q: Queryable, anonId: string, userId: string): Promise<string[]> {
    const rows = await q.query<{ id: string }>(`UPDATE projects SET user_id = $1, anon_id = NULL WHERE anon_id = $2 RETURNING id`, [userId, anonId]);
    return rows.map((r) => r.id);
  }
}
