import { Injectable } from '@nestjs/common';
import { identityOfOwner, ownerColumn, ownerColumns, ownerKey, type Identity } from '../common/identity.js';
import { Sql, type Queryable } from '../database/sql.js';
import type { DocumentQuota } from '../config/app-config.js';
import { DOCUMENT_COLUMNS, type DocumentRow } from './document-view.js';

export interface NewDocument {
  owner: Identity;
  projectId: string | null;
  filename: string;
  mediaType: string;
  bytes: number;
  content: Buffer;
}

// A document a worker holds: what it needs to read it, and who to tell.
export interface ClaimedDocument {
  id: string;
  claimId: string;
  owner: Identity;
  projectId: string | null;
  filename: string;
  mediaType: string;
  attempts: number;
  content: Buffer;
}

// Who to tell about a document now (it may have moved to an account meanwhile).
export interface DocumentAudience {
  owner: Identity;
  projectId: string | null;
}

export interface DocumentUsage {
  documents: number;
  bytes: number;
}

export type InsertResult =
  | { kind: 'inserted'; row: DocumentRow }
  | { kind: 'project_not_found' }
  | { kind: 'over_quota'; used: DocumentUsage };

// The two-key advisory lock space of document uploads, per owner (see anon-usage.repository.ts).
const DOCUMENT_LOCK = 7_241_104;

// How many documents a listing returns at most.
export const MAX_LISTED_DOCUMENTS = 1000;

interface OwnerRow {
  user_id: string | null;
  anon_id: string | null;
  project_id: string | null;
}

// Documents. Every read and write of a client names the owner, so a foreign document is the
// same as an unknown one; the ingestion workers' statements name their claim instead.
@Injectable()
export class DocumentsRepository {
  constructor(private readonly sql: Sql) {}

  // Stored "processing", in the owner's project, if the owner's quota has room for it. The
  // project check, the quota check and the insert are one statement, run under a per-owner
  // lock: two uploads of one owner at once cannot both take the last room.
  async insert(doc: NewDocument, quota: DocumentQuota): Promise<InsertResult> {
    const { userId, anonId } = ownerColumns(doc.owner);
    const { column, id } = ownerColumn(doc.owner);
    const [, rows] = await this.sql.batch(
      (tx) =>
        [
          tx.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [DOCUMENT_LOCK, ownerKey(doc.owner)]),
          tx.query<DocumentRow & { used_documents: number; used_bytes: number; project_ok: boolean }>(
            `WITH used AS (
               SELECT count(*)::int AS used_documents, COALESCE(sum(d.bytes), 0)::float8 AS used_bytes FROM documents d WHERE d.${column} = $8
             ), target AS (
               SELECT ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM projects p WHERE p.id = $3 AND p.${column} = $8)) AS project_ok
             ), inserted AS (
               INSERT INTO documents AS d (user_id, anon_id, project_id, filename, media_type, bytes, status, content)
               SELECT $1, $2, $3, $4, $5, $6::int, 'processing', $7 FROM used, target
               WHERE target.project_ok AND used.used_documents < $9::int AND used.used_bytes + $6::int <= $10::float8
               RETURNING ${DOCUMENT_COLUMNS}
             )
             SELECT used.used_documents, used.used_bytes, target.project_ok, inserted.* FROM used CROSS JOIN target LEFT JOIN inserted ON true`,
            [userId, anonId, doc.projectId, doc.filename, doc.mediaType, doc.bytes, doc.content, id, quota.documents, quota.bytes],
          ),
        ] as const,
    );
    const row = rows[0];
    if (!row.project_ok) return { kind: 'project_not_found' };
    if (!row.id) return { kind: 'over_quota', used: { documents: row.used_documents, bytes: row.used_bytes } };
    const { used_documents: _documents, used_bytes: _bytes, project_ok: _ok, ...document } = row;
    return { kind: 'inserted', row: document };
  }

  // How many documents the owner has, and their total size (whatever their status).
  async usage(owner: Identity): Promise<DocumentUsage> {
    const { column, id } = ownerColumn(owner);
    const [row] = await this.sql.query<{ documents: number; bytes: number }>(
      `SELECT count(*)::int AS documents, COALESCE(sum(d.bytes), 0)::float8 AS bytes FROM documents d WHERE d.${column} = $1`,
      [id],
    );
    return row;
  }

  // The owner's documents, newest first: of one project, or all of them (projectId undefined).
  listOwned(owner: Identity, projectId?: string): Promise<DocumentRow[]> {
    const { column, id } = ownerColumn(owner);
    const inProject = projectId === undefined ? '' : 'AND d.project_id = $2';
    return this.sql.query<DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM documents d WHERE d.${column} = $1 ${inProject}
       ORDER BY d.created_at DESC, d.id DESC LIMIT ${MAX_LISTED_DOCUMENTS}`,
      projectId === undefined ? [id] : [id, projectId],
    );
  }

  // Deletes the owner's document with its passages (cascade). Null when it is not theirs.
  async deleteOwned(documentId: string, owner: Identity): Promise<{ projectId: string | null } | null> {
    const { column, id } = ownerColumn(owner);
    const [row] = await this.sql.query<{ project_id: string | null }>(`DELETE FROM documents d WHERE d.id = $1 AND d.${column} = $2 RETURNING d.project_id`, [documentId, id]);
    return row ? { projectId: row.project_id } : null;
  }

  // The scope of an answer to a user message: its chat's project, and whether that scope has a
  // ready document at all (when not, an answer searches nothing). Two index probes; sent in the
  // turn's pipelined transaction, it costs no round trip of its own.
  async scopeOfMessage(q: Queryable, userMessageId: string, owner: Identity): Promise<{ projectId: string | null; searchable: boolean } | null> {
    const { column, id } = ownerColumn(owner);
    const [row] = await q.query<{ project_id: string | null; searchable: boolean }>(
      `SELECT c.project_id,
         CASE WHEN c.project_id IS NULL
           THEN EXISTS (SELECT 1 FROM documents d WHERE d.${column} = $2 AND d.project_id IS NULL AND d.status = 'ready' AND d.chunk_count > 0)
           ELSE EXISTS (SELECT 1 FROM documents d WHERE d.${column} = $2 AND d.project_id = c.project_id AND d.status = 'ready' AND d.chunk_count > 0)
         END AS searchable
       FROM messages m JOIN chats c ON c.id = m.chat_id
       WHERE m.id = $1`,
      [userMessageId, id],
    );
    return row ? { projectId: row.project_id, searchable: row.searchable } : null;
  }

  // Sign-up or login: the visitor's documents move to the user (see projects.repository.ts).
  async transferAnonymous(q: Queryable, anonId: string, userId: string): Promise<void> {
    await q.query(`UPDATE documents SET user_id = $1, anon_id = NULL WHERE anon_id = $2`, [userId, anonId]);
  }

  // --- The ingestion workers' statements -----------------------------------------------------

  // The oldest document waiting to be processed, claimed for `leaseSeconds`: one nobody holds,
  // or whose holder let its lease run out (a process that died). SKIP LOCKED: two workers
  // asking at once get two different documents.
  async claimNext(claimId: string, leaseSeconds: number): Promise<ClaimedDocument | null> {
    const [row] = await this.sql.query<OwnerRow & { id: string; filename: string; media_type: string; attempts: number; content: Buffer | null }>(
      `WITH next AS (
         SELECT id FROM documents
         WHERE status = 'processing' AND (lease_until IS NULL OR lease_until < now())
         ORDER BY created_at LIMIT 1
         FOR UPDATE SKIP LOCKED
       )
       UPDATE documents d SET claim_id = $1, lease_until = now() + make_interval(secs => $2), attempts = d.attempts + 1, updated_at = now()
       FROM next WHERE d.id = next.id
       RETURNING d.id, d.user_id, d.anon_id, d.project_id, d.filename, d.media_type, d.attempts, d.content`,
      [claimId, leaseSeconds],
    );
    if (!row) return null;
    return {
      id: row.id,
      claimId,
      owner: identityOfOwner(row.user_id, row.anon_id),
      projectId: row.project_id,
      filename: row.filename,
      mediaType: row.media_type,
      attempts: row.attempts,
      content: row.content ?? Buffer.alloc(0),
    };
  }

  // Progress (a retried document starts over, and says so), and the lease renewed. Null when the claim is lost (the document was deleted, or
  // its lease ran out and another worker took it): the worker stops.
  async progress(documentId: string, claimId: string, progress: number, leaseSeconds: number): Promise<DocumentAudience | null> {
    const [row] = await this.sql.query<OwnerRow>(
      `UPDATE documents SET progress = $3, lease_until = now() + make_interval(secs => $4), updated_at = now()
       WHERE id = $1 AND claim_id = $2 AND status = 'processing'
       RETURNING user_id, anon_id, project_id`,
      [documentId, claimId, progress, leaseSeconds],
    );
    return row ? audienceOf(row) : null;
  }

  async markReady(documentId: string, claimId: string, chunkCount: number, searchConfig: string): Promise<DocumentAudience | null> {
    const [row] = await this.sql.query<OwnerRow>(
      `UPDATE documents SET status = 'ready', progress = 100, chunk_count = $3, search_config = $4, error = NULL, content = NULL,
         claim_id = NULL, lease_until = NULL, updated_at = now()
       WHERE id = $1 AND claim_id = $2 AND status = 'processing'
       RETURNING user_id, anon_id, project_id`,
      [documentId, claimId, chunkCount, searchConfig],
    );
    return row ? audienceOf(row) : null;
  }

  // Failed for good, with a reason meant for the user; the upload and any passages go.
  async markFailed(documentId: string, claimId: string, reason: string): Promise<DocumentAudience | null> {
    const [row] = await this.sql.query<OwnerRow>(
      `WITH failed AS (
         UPDATE documents SET status = 'failed', error = left($3, 500), progress = 0, content = NULL, chunk_count = 0, claim_id = NULL, lease_until = NULL, updated_at = now()
         WHERE id = $1 AND claim_id = $2 AND status = 'processing'
         RETURNING id, user_id, anon_id, project_id
       ), cleared AS (
         DELETE FROM document_passages WHERE document_id IN (SELECT id FROM failed)
       )
       SELECT user_id, anon_id, project_id FROM failed`,
      [documentId, claimId, reason],
    );
    return row ? audienceOf(row) : null;
  }

  // A transient failure (the database, the embeddings server): the claim is let go, to be
  // taken again once `retryInSeconds` have passed.
  async release(documentId: string, claimId: string, retryInSeconds: number): Promise<void> {
    await this.sql.query(
      `UPDATE documents SET claim_id = NULL, lease_until = now() + make_interval(secs => $3), updated_at = now()
       WHERE id = $1 AND claim_id = $2 AND status = 'processing'`,
      [documentId, claimId, retryInSeconds],
    );
  }
}

function audienceOf(row: OwnerRow): DocumentAudience {
  return { owner: identityOfOwner(row.user_id, row.anon_id), projectId: row.project_id };
}
