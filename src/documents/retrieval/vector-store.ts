import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/sql.js';
import { scopeCondition, toScoredPassage, type PassageRow, type ScoredPassage, type SearchScope } from './search-scope.js';

// Where passage vectors are kept and searched. The PostgreSQL store below needs no extension
// (pgvector is not on these machines, nor in the embedded database); an extension-backed or
// external index can take its place behind this port.
export interface VectorStore {
  // Vectors of unit length, one per passage id; replaces earlier ones.
  upsert(vectors: { passageId: string; vector: number[] }[]): Promise<void>;
  // The passages of the scope nearest to a unit-length vector, by cosine similarity.
  nearest(scope: SearchScope, vector: number[], limit: number): Promise<ScoredPassage[]>;
  // A document's vectors, once it is deleted (PostgreSQL: its passages' rows cascade).
  removeDocument(documentId: string): Promise<void>;
}

export const VECTOR_STORE = Symbol('VECTOR_STORE');

// Vectors in a real[] column beside the passages; cosine similarity of unit vectors is their
// dot product, computed in SQL over the scope's passages (an exact scan: a user's or a
// project's documents, not a corpus).
@Injectable()
export class PostgresVectorStore implements VectorStore {
  constructor(private readonly sql: Sql) {}

  async upsert(vectors: { passageId: string; vector: number[] }[]): Promise<void> {
    if (vectors.length === 0) return;
    await this.sql.query(
      `UPDATE document_passages p SET embedding = v.embedding::real[]
       FROM unnest($1::uuid[], $2::text[]) AS v(id, embedding) WHERE p.id = v.id`,
      [vectors.map((v) => v.passageId), vectors.map((v) => `{${v.vector.join(',')}}`)],
    );
  }

  async nearest(scope: SearchScope, vector: number[], limit: number): Promise<ScoredPassage[]> {
    const { sql, values } = scopeCondition(scope);
    const rows = await this.sql.query<PassageRow>(
      `WITH scope AS (SELECT d.id, d.filename FROM documents d WHERE ${sql})
       SELECT p.id, p.document_id, s.filename, p.content, p.page, p.heading, p.ordinal,
         (SELECT sum(a * b) FROM unnest(p.embedding, $3::real[]) AS v(a, b)) AS score
       FROM scope s JOIN document_passages p ON p.document_id = s.id
       WHERE p.embedding IS NOT NULL AND cardinality(p.embedding) = cardinality($3::real[])
       ORDER BY score DESC, p.document_id, p.ordinal
       LIMIT $4`,
      [...values, `{${vector.join(',')}}`, limit],
    );
    return rows.map(toScoredPassage);
  }

  async removeDocument(): Promise<void> {
    // The passages' rows, vectors included, went with the document.
  }
}
