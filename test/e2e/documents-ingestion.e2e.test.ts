import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { documentSettled, HANDBOOK_FACT, handbookMarkdown, uploadDocument } from '../support/documents.js';
import { request, uniqueEmail } from '../support/http.js';
import { redisEnv } from '../support/redis.js';
import { closeAllSockets, connectChats } from '../support/socket.js';
import { postSse, readSse } from '../support/sse.js';

async function query<R = Record<string, any>>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}

const sourcesFor = async (t: TestApp, headers: Record<string, string>, body: Record<string, unknown>) => {
  const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, headers)).all();
  return frames.find((f) => f.event === 'message_sources')?.data.sources as { document_id: string; content: string }[] | undefined;
};

describe('document ingestion across restarts and instances', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    closeAllSockets();
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await database.drop();
  });

  it('takes up, at start, a document that a dead process left half processed, and gives up one that failed too often', async () => {
    const anon = crypto.randomUUID();
    // As a process that died while holding them would leave them: claimed, lease run out.
    const [left] = await query(database.url,
      `INSERT INTO documents (anon_id, filename, media_type, bytes, status, progress, content, claim_id, lease_until, attempts)
       VALUES ($1, 'handbook.md', 'text/markdown', $2, 'processing', 35, $3, gen_random_uuid(), now() - interval '1 minute', 1) RETURNING id`,
      [anon, Buffer.byteLength(handbookMarkdown()), Buffer.from(handbookMarkdown())]);
    await query(database.url, `INSERT INTO document_passages (document_id, ordinal, content, search) VALUES ($1, 0, 'half written by the dead process', to_tsvector('half written'))`, [left.id]);
    const [poison] = await query(database.url,
      `INSERT INTO documents (anon_id, filename, media_type, bytes, status, content, claim_id, lease_until, attempts)
       VALUES ($1, 'poison.md', 'text/markdown', 4, 'processing', '\\x23206869', gen_random_uuid(), now() - interval '1 minute', 3) RETURNING id`,
      [anon]);

    const t = await startTestApp({ database });
    apps.push(t);
    const headers = { 'x-anon-id': anon };
    const ready = await documentSettled(t.baseUrl, headers, left.id);
    expect(ready).toMatchObject({ status: 'ready', progress: 100 });
    expect(await documentSettled(t.baseUrl, headers, poison.id)).toMatchObject({ status: 'failed', error: 'The document could not be processed in 3 attempts' });

    const [row] = await query(database.url, `SELECT attempts, content IS NULL AS dropped, claim_id, (SELECT count(*)::int FROM document_passages WHERE document_id = $1) AS passages FROM documents WHERE id = $1`, [left.id]);
    expect(row).toEqual({ attempts: 2, dropped: true, claim_id: null, passages: ready.chunk_count });
    // The dead process's half-written passage went; the answer finds the real one.
    const sources = await sourcesFor(t, headers, { content: 'Who is the lighthouse keeper on Skerry Island?' });
    expect(sources![0].content).toContain(HANDBOOK_FACT);
    expect(sources!.some((s) => s.content.includes('dead process'))).toBe(false);
  });

  it('processes each document once with two instances on one database, and pushes its progress through the other instance', async () => {
    const redis = redisEnv();
    const a = await startTestApp({ database, env: { ...redis, DOCUMENT_WORKERS: '2' } });
    const b = await startTestApp({ database, env: { ...redis, DOCUMENT_WORKERS: '2' } });
    apps.push(a, b);
    const anon = crypto.randomUUID();
    const headers = { 'x-anon-id': anon };
    const project = (await request(a.baseUrl, 'POST', '/api/v1/projects', { body: { name: 'Shared' }, headers })).body.project;
    const watcher = await connectChats(b.baseUrl, { auth: { anon_id: anon } });
    const from = watcher.mark();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await uploadDocument(i % 2 ? b.baseUrl : a.baseUrl, headers, { name: `doc${i}.md`, content: `# Doc ${i}\n\n${handbookMarkdown()}` }, project.id);
      ids.push(res.body.document.id);
    }
    for (const id of ids) {
      await watcher.waitFor('document_status', { from, where: (s) => s.document_id === id && s.status === 'ready', timeoutMs: 20_000 });
    }
    const rows = await query(database.url, `SELECT id, attempts, status FROM documents WHERE id = ANY($1::uuid[])`, [ids]);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(ids.map(() => ['ready', 1]));
  });

  it('moves a visitor’s projects and documents to the account on sign-up; the visitor’s sockets leave the rooms', async () => {
    const t = await startTestApp({ database });
    apps.push(t);
    const anon = crypto.randomUUID();
    const visitor = { 'x-anon-id': anon };
    const project = (await request(t.baseUrl, 'POST', '/api/v1/projects', { body: { name: 'Visitor project' }, headers: visitor })).body.project;
    const upload = await uploadDocument(t.baseUrl, visitor, { name: 'handbook.md', content: handbookMarkdown() }, project.id);
    await documentSettled(t.baseUrl, visitor, upload.body.document.id);
    const visitorTab = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    await visitorTab.ask('join_project', { project_id: project.id });

    const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'long enough pw' }, headers: visitor });
    expect(reg.status).toBe(201);
    const account = { authorization: `Bearer ${reg.body.access_token}` };
    expect((await request(t.baseUrl, 'GET', '/api/v1/projects', { headers: account })).body.projects).toEqual([expect.objectContaining({ id: project.id, document_count: 1 })]);
    expect((await request(t.baseUrl, 'GET', '/api/v1/documents', { headers: account })).body.documents.map((d: { id: string }) => d.id)).toEqual([upload.body.document.id]);
    expect((await request(t.baseUrl, 'GET', '/api/v1/projects', { headers: visitor })).body.projects).toEqual([]);
    expect((await request(t.baseUrl, 'GET', `/api/v1/documents?project_id=${project.id}`, { headers: visitor })).body.code).toBe('PROJECT_NOT_FOUND');

    const accountTab = await connectChats(t.baseUrl, { auth: { token: reg.body.access_token } });
    await accountTab.ask('join_project', { project_id: project.id });
    const [vFrom, aFrom] = [visitorTab.mark(), accountTab.mark()];
    await request(t.baseUrl, 'PATCH', `/api/v1/projects/${project.id}`, { body: { name: 'Account project' }, headers: account });
    await accountTab.waitFor('project_updated', { from: aFrom });
    expect(visitorTab.all('project_updated', vFrom)).toEqual([]);
    // The account's answers search the moved documents.
    const sources = await sourcesFor(t, account, { content: 'Who is the lighthouse keeper on Skerry Island?', project_id: project.id });
    expect(sources![0].content).toContain(HANDBOOK_FACT);
  });
});
