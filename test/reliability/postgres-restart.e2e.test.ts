import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logging/logger.js';
import { runMigrations } from '../../src/database/data-source.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/database/embedded-postgres.js';
import { AbandonedGenerationsSweeper } from '../../src/messages/generation/abandoned-generations.sweeper.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { registerUser, request } from '../support/http.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
const deltasOf = (frames: SseFrame[]) => frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');

// PostgreSQL stopped and started again under a running app. The server is this test's own
// (embedded, in a temporary folder), so no other test notices.
describe('PostgreSQL restarted mid-stream', () => {
  const logger = createLogger('silent');
  let dir: string;
  let postgres: RunningPostgres;
  let t: TestApp;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });
  const restart = async () => {
    postgres = await startEmbeddedPostgres(dir, logger);
  };
  // Reads through a connection of its own, opened for the question (the server may have restarted).
  const query = async (text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'chat-pg-restart-'));
    postgres = await startEmbeddedPostgres(dir, logger);
    await runMigrations(postgres.url);
    t = await startTestApp({ database: { url: postgres.url, drop: async () => undefined }, env: { ECHO_DELAY_MS: '20' } });
    token = (await registerUser(t.baseUrl)).token;
  });
  afterAll(async () => {
    await t?.close();
    await postgres?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('goes on streaming through a restart, stores the answer once the database is back, and the pool recovers by itself', async () => {
    const reader = readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: words(150, 'r') }, auth()));
    for (let i = 0; i < 4; i++) await reader.next();
    await postgres.stop();

    // Down: readiness and /health say so, liveness does not; a new send is refused at once, 503 and retryable.
    expect((await request(t.baseUrl, 'GET', '/health/ready')).status).toBe(503);
    expect((await request(t.baseUrl, 'GET', '/health')).body).toMatchObject({ database: 'down' });
    expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
    const refused = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'while down' }, auth(), AbortSignal.timeout(10_000));
    expect(refused.status).toBe(503);
    expect((await readSse(refused).all())[0].data).toMatchObject({ code: 'SERVER_BUSY', retryable: true });

    await restart();
    const frames = await reader.all();
    expect(frames.at(-2)!.event).toBe('assistant_complete');
    expect(frames.at(-1)!.event).toBe('usage_info');
    expect(deltasOf(frames)).toBe(words(150, 'r'));
    const [row] = await query('SELECT status, content FROM messages WHERE id = $1', [frames[0].data.message_id]);
    expect(row).toEqual({ status: 'complete', content: words(150, 'r') });

    // The same pool, without a restart of the app, serves the next requests.
    expect((await request(t.baseUrl, 'GET', '/health/ready')).status).toBe(200);
    const next = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'after the restart' }, auth())).all();
    expect(next.at(-2)!.event).toBe('assistant_complete');
  }, 60_000);

  it('ends the answer with a frame when the database is away at its end, and the sweeper closes it once it is back', async () => {
    const reader = readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: words(100, 'd') }, auth()));
    const typing = (await reader.next())!;
    await reader.next();
    await postgres.stop();
    const frames = await reader.all();
    // It cannot be stored now: the stream says so (retryable) instead of claiming a completion.
    const end = frames.find((f) => f.event === 'assistant_error' || f.event === 'assistant_complete')!;
    expect(end).toMatchObject({ event: 'assistant_error', data: { retryable: true } });

    await restart();
    const [left] = await query('SELECT status FROM messages WHERE id = $1', [typing.data.message_id]);
    expect(left.status).toBe('streaming');
    // What the periodic sweep does for a message whose generation is gone (here at once, rather
    // than after its minute without a heartbeat).
    await t.app.get(AbandonedGenerationsSweeper).sweep(0);
    const [closed] = await query('SELECT status, error_code FROM messages WHERE id = $1', [typing.data.message_id]);
    expect(closed).toEqual({ status: 'error', error_code: 'INTERNAL_ERROR' });
    const [account] = await query('SELECT reserved FROM credit_accounts');
    expect(Number(account.reserved)).toBe(0);
    expect((await request(t.baseUrl, 'GET', '/health/ready')).status).toBe(200);
  }, 60_000);
});
