import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql.js';
import type { Passage } from './extraction/chunker.js';
import { scopeCondition, toScoredPassage, type PassageRow, type ScoredPassage, type SearchScope } from './retrieval/search-scope.js';

// The question's longest lexemes taken into a search (long words are the rare ones).
const MAX_QUERY_TERMS = 32;
// The question's text a search reads at most.
const MAX_QUERY_CHARS = 4000;

// Passages: written by the ingestion workers, ranked by full-text search.
@Injectable()
export class PassagesRepository {
  constructor(private readonly sql: Sql) {}

  // A retried ingestion starts over: what an earlier attempt wrote goes. Only while the claim holds.
  async clear(documentId: string, claimId: string): Promise<void> {
    await this.sql.query(
      `WITH holder AS (SELECT id FROM documents WHERE id = $1 AND claim_id = $2 FOR UPDATE)
       DELETE FROM document_passages WHERE document_id IN (SELECT id FROM holder)`,
      [documentId, claimId],
    );
  }

  // A batch of passages with their full-text vectors (heading weighted above the text), in the
  // document's search configuration. Answers their ids in order, or null when the claim is
  // lost. The document row is locked for the statement, so a new claimer cannot interleave.
  async insert(documentId: string, claimId: string, searchConfig: string, passages: Passage[]): Promise<string[] | null> {
    const rows = await this.sql.query<{ id: string; ordinal: number }>(
      `WITH holder AS (SELECT id FROM documents WHERE id = $1 AND claim_id = $2 FOR UPDATE)
       INSERT INTO document_passages (document_id, ordinal, content, page, heading, search)
       SELECT holder.id, v.ordinal, v.content, v.page, v.heading,
         setweight(to_tsvector($3::regconfig, coalesce(v.heading, '')), 'A') || to_tsvector($3::regconfig, v.content)
       FROM holder, unnest($4::int[], $5::text[], $6::int[], $7::text[]) AS v(ordinal, content, page, heading)
       RETURNING id, ordinal`,
      [
        documentId,
        claimId,
        searchConfig,
        passages.map((p) => p.ordinal),
        passages.map((p) => p.content),
        passages.map((p) => p.page ?? null),
        passages.map((p) => p.heading ?? null),
      ],
    );
    if (rows.length === 0 && passages.length > 0) return null;
    const ids = new Map(rows.map((r) => [r.ordinal, r.id]));
    return passages.map((p) => ids.get(p.ordinal)!);
  }

  // Full-text search over the scope. Each document is searched in its own configuration: the
  // question's lexemes (prefixes for the longer ones) are OR-ed, so a question need not share
  // every word with a passage; a passage scores the rarity of the terms it has (BM25's idf,
  // over the scope), half as much again when it matches the question as a web search would
  // (every word, "quoted phrases", -exclusions), plus ts_rank_cd for how close they stand.
  async search(scope: SearchScope, question: string, limit: number): Promise<ScoredPassage[]> {
    const { sql, values } = scopeCondition(scope);
    const rows = await this.sql.query<PassageRow>(
      `WITH scope AS (
         SELECT d.id, d.filename, d.chunk_count, d.search_config::regconfig AS cfg FROM documents d WHERE ${sql}
       ), terms AS (
         SELECT c.cfg, t.query
         FROM (SELECT DISTINCT cfg FROM scope) c
         CROSS JOIN LATERAL (
           SELECT format('''%s''%s', replace(replace(v.lexeme, '\\', '\\\\'), '''', ''''''), CASE WHEN char_length(v.lexeme) >= 4 THEN ':*' ELSE '' END)::tsquery AS query
           FROM unnest(to_tsvector(c.cfg, $3)) v
           ORDER BY char_length(v.lexeme) DESC, v.lexeme
           LIMIT ${MAX_QUERY_TERMS}
         ) t
       ), queries AS (
         SELECT t.cfg, string_agg(t.query::text, ' | ')::tsquery AS loose, websearch_to_tsquery(t.cfg, $3) AS strict
         FROM terms t GROUP BY t.cfg
       ), candidates AS (
         SELECT p.id, p.document_id, s.filename, s.cfg, p.content, p.page, p.heading, p.ordinal, p.search, q.loose, q.strict
         FROM queries q
         JOIN scope s ON s.cfg = q.cfg
         JOIN document_passages p ON p.document_id = s.id AND p.search @@ q.loose
       ), weights AS (
         SELECT t.cfg, t.query,
           ln(1 + ((SELECT sum(s.chunk_count) FROM scope s WHERE s.cfg = t.cfg) - count(c.id) + 0.5) / (count(c.id) + 0.5)) AS idf
         FROM terms t LEFT JOIN candidates c ON c.cfg = t.cfg AND c.search @@ t.query
         GROUP BY t.cfg, t.query
       )
       SELECT c.id, c.document_id, c.filename, c.content, c.page, c.heading, c.ordinal,
         (SELECT coalesce(sum(w.idf), 0) FROM weights w WHERE w.cfg = c.cfg AND c.search @@ w.query)
           * CASE WHEN numnode(c.strict) > 0 AND c.search @@ c.strict THEN 1.5 ELSE 1 END
           + ts_rank_cd(c.search, c.loose, 1) AS score
       FROM candidates c
       ORDER BY score DESC, c.document_id, c.ordinal
       LIMIT $4`,
      [...values, question.slice(0, MAX_QUERY_CHARS), limit],
    );
    return rows.map(toScoredPassage);
  }
}
