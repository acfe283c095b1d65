import { ownerColumn, type Identity } from '../../common/identity.js';

// Where an answer looks: the ready documents of one project, or (projectId null) the owner's
// ready documents outside any project.
export interface SearchScope {
  owner: Identity;
  projectId: string | null;
}

// A passage as a search ranks it.
export interface ScoredPassage {
  id: string;
  documentId: string;
  filename: string;
  content: string;
  page: number | null;
  heading: string | null;
  ordinal: number;
  score: number;
}

// The scope as a condition on `documents d`, with its values as $1 and $2. Four texts in all
// (user or visitor, project or none), each indexable: documents_{user,anon}_project_idx.
export function scopeCondition(scope: SearchScope): { sql: string; values: [string, string | null] } {
  const { column, id } = ownerColumn(scope.owner);
  const project = scope.projectId ? 'd.project_id = $2' : '$2::uuid IS NULL AND d.project_id IS NULL';
  return { sql: `d.${column} = $1 AND ${project} AND d.status = 'ready' AND d.chunk_count > 0`, values: [id, scope.projectId] };
}

export interface PassageRow {
  id: string;
  document_id: string;
  filename: string;
  content: string;
  page: number | null;
  heading: string | null;
  ordinal: number;
  score: number | string;
}

export function toScoredPassage(row: PassageRow): ScoredPassage {
  return {
    id: row.id,
    documentId: row.document_id,
    filename: row.filename,
    content: row.content,
    page: row.page,
    heading: row.heading,
    ordinal: row.ordinal,
    score: Number(row.score),
  };
}
