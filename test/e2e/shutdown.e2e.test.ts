import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logging/logger.js';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { compileSources } from '../support/compile.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

// A real process, a real SIGTERM: running answers finish within SHUTDOWN_DRAIN_MS, the one that
// outlives it is stopped and stored with exactly the text sent, new work is refused at once, the
// database (embedded or not) is closed last and the process exits 0. Nothing is left streaming.
const DRAIN_MS = 1500;
const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');

interface Service {
  child: ChildProcess;
  baseUrl: string;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

let compiled: string;

async function startService(env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, [path.join(compiled, 'src/main.js')], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ECHO_DELAY_MS: '20', SHUTDOWN_DRAIN_MS: String(DRAIN_MS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`the service did not start: ${logs.join('\n')}`)), 60_000);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg?.startsWith('listening') && entry.port) {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then(() => reject(new Error(`the service exited while starting: ${logs.join('\n')}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, logs, exited };
}

// Starts a stream and reads it to its end in the background; resolves `started` at its first delta.
function openStream(baseUrl: string, content: string, anonId: string) {
  let started!: () => void;
  const first = new Promise<void>((resolve) => (started = resolve));
  const frames = (async () => {
    const res = await postSse(baseUrl, '/api/v1/messages/send', { content }, { 'x-anon-id': anonId });
    const reader = readSse(res);
    const seen: SseFrame[] = [];
    for (let frame = await reader.next(); frame; frame = await reader.next()) {
      seen.push(frame);
      if (frame.event === 'assistant_delta') started();
    }
    return seen;
  })();
  return { first, frames };
}

async function checkDrain(service: Service, query: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>) {
  const anonId = randomUUID();
  // One answer of ~0.2 s finishes within the drain; one of ~6 s does not.
  const short = openStream(service.baseUrl, words(10, 's'), anonId);
  const long = openStream(service.baseUrl, words(300, 'l'), anonId);
  await Promise.all([short.first, long.first]);

  const signalled = Date.now();
  service.child.kill('SIGTERM');
  // At once: not ready, and new sends are refused with SHUTTING_DOWN (retryable, Retry-After).
  await expect.poll(async () => (await fetch(`${service.baseUrl}/health/ready`)).status, { interval: 20, timeout: 2000 }).toBe(503);
  expect((await fetch(`${service.baseUrl}/health/live`)).status).toBe(200);
  const refused = await postSse(service.baseUrl, '/api/v1/messages/send', { content: 'too late' }, { 'x-anon-id': randomUUID() });
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const refusal = await readSse(refused).all();
  expect(refusal.map((f) => f.event)).toEqual(['assistant_error']);
  expect(refusal[0].data).toMatchObject({ code: 'SHUTTING_DOWN', retryable: true });

  const shortFrames = await short.frames;
  expect(shortFrames.map((f) => f.event).slice(-2)).toEqual(['assistant_complete', 'usage_info']);
  const longFrames = await long.frames;
  expect(longFrames.map((f) => f.event).slice(-2)).toEqual(['assistant_error', 'usage_info']);
  expect(longFrames.at(-2)!.data).toMatchObject({ code: 'SHUTTING_DOWN', retryable: true });
  const longText = longFrames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');
  expect(longText.length).toBeGreaterThan(0);
  expect(longText.length).toBeLessThan(words(300, 'l').length);

  const exit = await service.exited;
  expect(exit.code).toBe(0);
  // The drain, then the closing: a few seconds at most.
  expect(exit.at - signalled).toBeLessThan(DRAIN_MS + 5000);
  expect(service.logs.some((line) => line.includes('"shut down"'))).toBe(true);

  const stored = await query(
    `SELECT m.id, m.status, m.content, m.error_code FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.anon_id = $1 AND m.role = 'assistant'`,
    [anonId],
  );
  const byId = new Map(stored.rows.map((r) => [r.id as string, r]));
  expect(byId.get(shortFrames[0].data.message_id)).toMatchObject({ status: 'complete', content: words(10, 's') });
  expect(byId.get(longFrames[0].data.message_id)).toMatchObject({ status: 'stopped', content: longText, error_code: 'SHUTTING_DOWN' });
  expect((await query(`SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'`)).rows[0].n).toBe(0);
  // Both holds settled: the stopped answer is counted (it produced text), none is left open.
  const usage = await query('SELECT settled_at, refunded_at FROM anon_usage WHERE anon_id = $1', [anonId]);
  expect(usage.rows).toHaveLength(2);
  expect(usage.rows.every((r) => r.settled_at !== null && r.refunded_at === null)).toBe(true);
}

describe('shutdown on SIGTERM, as the contract says', () => {
  beforeAll(async () => {
    compiled = await compileSources('shutdown-e2e-');
  }, 60_000);
  afterAll(async () => {
    if (compiled) await rm(compiled, { recursive: true, force: true });
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('drains, stores, refuses new work, closes the database last and exits 0', async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'shutdown-url-'));
      const service = await startService({ DATABASE_URL: db.url, DATA_DIR: dataDir });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await checkDrain(service, (sql, values) => client.query(sql, values));
      } finally {
        await client.end();
        service.child.kill('SIGKILL');
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('on the embedded PostgreSQL', () => {
    it('drains, stores, stops the embedded server last and exits 0', async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'shutdown-embedded-'));
      const service = await startService({ DATA_DIR: dataDir });
      let inspect: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
      try {
        let client: pg.Client | undefined;
        await checkDrain(service, async (sql, values) => {
          // The service stopped its embedded server on the way out; it is read again afterwards.
          if (!client) {
            expect(existsSync(path.join(dataDir, 'postgres', 'pgdata', 'postmaster.pid'))).toBe(false);
            inspect = await startEmbeddedPostgres(path.join(dataDir, 'postgres'), createLogger('silent'));
            client = new pg.Client({ connectionString: inspect.url });
            await client.connect();
          }
          return client.query(sql, values);
        });
        await client?.end();
      } finally {
        await inspect?.stop();
        service.child.kill('SIGKILL');
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
