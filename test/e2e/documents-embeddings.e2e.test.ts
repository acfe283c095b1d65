import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { documentSettled, HANDBOOK_FACT, handbookMarkdown, uploadDocument } from '../support/documents.js';
import { EMBEDDING_DIMENSIONS, fakeEmbedding, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { request } from '../support/http.js';
import { postSse, readSse } from '../support/sse.js';

// EMBEDDINGS_MODEL: passages and questions embedded through the real openai SDK against a local
// OpenAI-compatible server, vectors kept beside the passages, both rankings fused.
describe('vector search beside full text (EMBEDDINGS_MODEL)', () => {
  let fake: FakeOpenAi;
  let t: TestApp;
  let db: pg.Client;
  const headers = { 'x-anon-id': crypto.randomUUID() };
  let projectId: string;
  let documentId: string;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    // The OpenAI-compatible server serves embeddings only: answers come from echo.
    t = await startTestApp({ env: { OPENAI_BASE_URL: `${fake.url}/v1`, EMBEDDINGS_MODEL: 'fake-embed-1' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    projectId = (await request(t.baseUrl, 'POST', '/api/v1/projects', { body: { name: 'Vectors' }, headers })).body.project.id;
  });
  afterAll(async () => {
    await db.end();
    await t.close();
    await fake.close();
  });

  const embeddingRequests = () => fake.requests.filter((r) => r.path === '/v1/embeddings');
  const ask = async (content: string) => {
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content, project_id: projectId }, headers)).all();
    return { events: frames.map((f) => f.event), sources: frames.find((f) => f.event === 'message_sources')?.data.sources as { id: string; content: string; score: number }[] };
  };

  it('embeds every passage in batches and stores unit-length vectors beside them', async () => {
    const res = await uploadDocument(t.baseUrl, headers, { name: 'handbook.md', content: handbookMarkdown() }, projectId);
    documentId = res.body.document.id;
    const doc = await documentSettled(t.baseUrl, headers, documentId);
    expect(doc.status).toBe('ready');

    const sent = embeddingRequests();
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect(r.body).toMatchObject({ model: 'fake-embed-1', encoding_format: 'float', input: expect.any(Array) });
    const inputs = sent.flatMap((r) => (r.body as { input: string[] }).input);
    expect(inputs).toHaveLength(doc.chunk_count);

    const { rows } = await db.query(
      `SELECT cardinality(embedding) AS dims, (SELECT sum(x * x) FROM unnest(embedding) x) AS norm FROM document_passages WHERE document_id = $1`,
      [documentId],
    );
    expect(rows).toHaveLength(doc.chunk_count);
    for (const row of rows) {
      expect(row.dims).toBe(EMBEDDING_DIMENSIONS);
      expect(row.norm).toBeCloseTo(1, 4);
    }
  });

  it('embeds the question, ranks by cosine within the scope and fuses the rankings', async () => {
    const before = embeddingRequests().length;
    const { events, sources } = await ask('Who is the lighthouse keeper on Skerry Island?');
    expect(events.slice(0, 3)).toEqual(['assistant_typing', 'message_sources', 'assistant_delta']);
    const questions = embeddingRequests().slice(before);
    expect(questions.map((r) => (r.body as { input: string[] }).input)).toEqual([['Who is the lighthouse keeper on Skerry Island?']]);
    expect(sources[0].content).toContain(HANDBOOK_FACT);

    // What the vector ranking alone puts first, by the stored vectors: the same passage.
    const question = fakeEmbedding('Who is the lighthouse keeper on Skerry Island?');
    const norm = Math.hypot(...question);
    const { rows } = await db.query(
      `SELECT id, (SELECT sum(a * b) FROM unnest(embedding, $2::real[]) v(a, b)) AS cosine FROM document_passages WHERE document_id = $1 ORDER BY cosine DESC LIMIT 1`,
      [documentId, `{${question.map((x) => x / norm).join(',')}}`],
    );
    expect(rows[0].id).toBe(sources[0].id);
    // Fused: full text finds only the passages that share the question's words; the vector
    // ranking brings its nearest ones beside them, up to RETRIEVAL_TOP_K.
    expect(sources).toHaveLength(5);
    expect(sources[0].score).toBeCloseTo(2 / 61, 6);
  });

  it('answers from full text alone when the question cannot be embedded', async () => {
    const { events, sources } = await ask('Who is the lighthouse keeper on Skerry Island? [[fake:error500]]');
    expect(events).toContain('assistant_complete');
    expect(sources[0].content).toContain(HANDBOOK_FACT);
    // Full-text scores, not fused ones.
    expect(sources[0].score).toBeGreaterThan(1);
  });
});
