// A project as every transport shows it.
export class ProjectView {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
  document_count: number;
}

export interface ProjectRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
  document_count: number;
}

export function toProjectView(row: ProjectRow): ProjectView {
  return {
    id: row.id,
    name: row.name,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    document_count: Number(row.document_count),
  };
}
