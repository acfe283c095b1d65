import type { DocumentStatus } from './document.entity.js';
import { ProjectView } from '../projects/project-view.js';

// A document as every transport shows it. (Classes, not interfaces: the OpenAPI and AsyncAPI
// descriptions are generated from them.)
export class DocumentView {
  id: string;
  project_id: string | null;
  filename: string;
  media_type: string;
  bytes: number;
  status: DocumentStatus;
  progress: number;
  chunk_count: number;
  error?: string;
  created_at: string;
  updated_at: string;
}

export interface DocumentRow {
  id: string;
  project_id: string | null;
  filename: string;
  media_type: string;
  bytes: number;
  status: DocumentStatus;
  progress: number;
  chunk_count: number;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

export const DOCUMENT_COLUMNS = 'd.id, d.project_id, d.filename, d.media_type, d.bytes, d.status, d.progress, d.chunk_count, d.error, d.created_at, d.updated_at';

export function toDocumentView(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    project_id: row.project_id,
    filename: row.filename,
    media_type: row.media_type,
    bytes: row.bytes,
    status: row.status,
    progress: row.progress,
    chunk_count: row.chunk_count,
    ...(row.error ? { error: row.error } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

// document_status: pushed to the owner's sockets and the project's room as a document is read,
// split and indexed.
export class DocumentStatusEvent {
  document_id: string;
  project_id: string | null;
  status: DocumentStatus;
  progress: number;
  error?: string;
  // Set once ready.
  chunk_count?: number;
  filename?: string;
}

export class ProjectUpdateData {
  // type document_added.
  document?: DocumentView;
  // type document_deleted.
  document_id?: string;
  // type renamed.
  project?: ProjectView;
}

export class ProjectUpdatedEvent {
  project_id: string;
  type: 'document_added' | 'document_deleted' | 'renamed';
  data: ProjectUpdateData;
}
