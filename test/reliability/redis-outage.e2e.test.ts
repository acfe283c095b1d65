import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { registerUser, request } from '../support/http.js';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.js';
import { closeAllSockets, connectChats } from '../support/socket.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
const deltasOf = (frames: SseFrame[]) => frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');
const TERMINAL = new Set(['assistant_complete', 'assistant_regenerated', 'assistant_error']);

// Redis killed (SIGKILL) and started again under two instances sharing one PostgreSQL. The Redis
// is this test's own, so nothing else on the machine notices.
describe('Redis killed and restarted under two instances', () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let db: pg.Client;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    redis = await startOwnRedis();
    database = await createTestDatabase();
    const env = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'outage:',
      REDIS_COMMAND_TIMEOUT_MS: '500',
      ECHO_DELAY_MS: '20',
      RATE_LIMIT_PER_MINUTE: '100000',
      SOCKET_EVENTS_PER_MINUTE: '100000',
    };
    a = await startTestApp({ env, database });
    b = await startTestApp({ env, database });
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
    token = (await registerUser(a.baseUrl)).token;
  });
  afterAll(async () => {
    closeAllSockets();
    await db?.end();
    await Promise.all([a?.close(), b?.close()]);
    await database?.drop();
    await redis?.stop();
  });

  const ready = async (t: TestApp) => (await request(t.baseUrl, 'GET', '/health/ready')).status;

  // A send that either streams to its end or is refused at once with a coded, retryable error.
  async function sendWithin(t: TestApp, content: string, ms: number): Promise<{ status: number; frames: SseFrame[] }> {
    const started = Date.now();
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content }, auth(), AbortSignal.timeout(ms));
    const frames = await readSse(res).all();
    expect(Date.now() - started).toBeLessThan(ms);
    if (res.status !== 200) {
      expect(res.status).toBe(503);
      expect(frames[0].data).toMatchObject({ code: 'SERVER_BUSY', retryable: true });
    } else {
      expect(TERMINAL.has(frames.at(-2)!.event)).toBe(true);
      expect(frames.at(-1)!.event).toBe('usage_info');
    }
    return { status: res.status, frames };
  }

  it('ends running answers with a frame, keeps both instances serving, and recovers within 20 s of Redis returning', async () => {
    expect(await ready(a)).toBe(200);
    expect(await ready(b)).toBe(200);
    const socketOnA = await connectChats(a.baseUrl, { auth: { token } });

    // Answers running on both instances (about 6 s each), over SSE and over a socket.
    const onA = readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: words(300, 'a') }, auth()));
    const onB = readSse(await postSse(b.baseUrl, '/api/v1/messages/send', { content: words(300, 'b') }, auth()));
    const bySocket = await socketOnA.ask('send_message', { content: words(200, 's') });
    for (let i = 0; i < 5; i++) await Promise.all([onA.next(), onB.next()]);
    await socketOnA.waitFor('assistant_delta', { where: (d) => d.message_id === bySocket.message_id });

    await redis.kill();

    // Each running answer ends with its terminal frame, then usage_info; what was streamed is
    // what is stored.
    const [framesA, framesB] = await Promise.all([onA.all(), onB.all()]);
    for (const [frames, tag] of [[framesA, 'a'], [framesB, 'b']] as const) {
      expect(TERMINAL.has(frames.at(-2)!.event)).toBe(true);
      expect(frames.at(-1)!.event).toBe('usage_info');
      const row = (await db.query('SELECT status, content FROM messages WHERE id = $1', [frames[0].data.message_id])).rows[0];
      expect(row.content).toBe(deltasOf(frames));
      if (frames.at(-2)!.event === 'assistant_complete') expect(deltasOf(frames)).toBe(words(300, tag));
    }
    const socketEnd = await socketOnA.waitFor('assistant_complete', { where: (d) => d.message_id === bySocket.message_id, timeoutMs: 15_000 });
    expect(socketEnd.content).toBe(words(200, 's'));

    // While Redis is away: readiness says so (503, redis down), liveness and the rest serve.
    await expect.poll(() => ready(a), { timeout: 5000 }).toBe(503);
    await expect.poll(() => ready(b), { timeout: 5000 }).toBe(503);
    const readiness = await request(a.baseUrl, 'GET', '/health/ready');
    expect(readiness.body).toMatchObject({ status: 'unavailable', database: 'up', redis: 'down' });
    for (const t of [a, b]) {
      expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
      expect((await request(t.baseUrl, 'GET', '/health')).status).toBe(200);
      expect((await request(t.baseUrl, 'GET', '/api/v1/models')).status).toBe(200);
      expect((await request(t.baseUrl, 'GET', '/api/v1/auth/me', { headers: auth() })).status).toBe(200);
      // New sends work on the instance that takes them (or fail fast, coded and retryable).
      const sent = await sendWithin(t, 'during the outage', 10_000);
      expect(sent.status).toBe(200);
    }
    expect(await socketOnA.ask('ping', undefined, 3000)).toHaveProperty('timestamp');
    expect((await socketOnA.ask('list_chats', {}, 3000)).total).toBeGreaterThan(0);

    // Redis returns: both instances are ready again and take sends within 20 s.
    await redis.start();
    const back = Date.now();
    await expect.poll(() => ready(a), { timeout: 20_000, interval: 250 }).toBe(200);
    await expect.poll(() => ready(b), { timeout: 20_000, interval: 250 }).toBe(200);
    for (const t of [a, b]) expect((await sendWithin(t, 'after the outage', 10_000)).frames.at(-2)!.event).toBe('assistant_complete');
    // What needs Redis works again: a stop on B reaches a generation running on A.
    const long = readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: words(300, 'stop') }, auth()));
    const typing = (await long.next())!;
    await long.next();
    await expect
      .poll(async () => (await request(b.baseUrl, 'POST', `/api/v1/messages/${typing.data.message_id}/stop`, { headers: auth() })).status, { timeout: 10_000 })
      .toBe(202);
    const stopped = await long.all();
    expect(stopped.find((f) => f.event === 'assistant_error')?.data).toMatchObject({ code: 'STOPPED' });
    expect(Date.now() - back).toBeLessThan(20_000);

    // Nothing is left streaming, nothing held.
    await expect.poll(async () => (await db.query(`SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'`)).rows[0].n, { timeout: 10_000 }).toBe(0);
    expect((await db.query('SELECT coalesce(sum(reserved), 0)::int AS held FROM credit_accounts')).rows[0].held).toBe(0);
  }, 90_000);
});

// Redis stopped (SIGSTOP) rather than killed: the connections stay open and nothing answers, as
// when the network to Redis goes silent. Commands already written get no reply and no error, so
// only the service's own bound on every Redis wait keeps the answers streaming.
describe('Redis that stops answering', () => {
  let redis: OwnRedis;
  let app: TestApp;
  let db: pg.Client;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    redis = await startOwnRedis();
    app = await startTestApp({
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'frozen:', REDIS_COMMAND_TIMEOUT_MS: '500', ECHO_DELAY_MS: '20', RATE_LIMIT_PER_MINUTE: '100000', SOCKET_EVENTS_PER_MINUTE: '100000' },
    });
    db = new pg.Client({ connectionString: app.databaseUrl });
    await db.connect();
    token = (await registerUser(app.baseUrl)).token;
  });
  afterAll(async () => {
    closeAllSockets();
    await db?.end();
    redis?.thaw();
    await app?.close();
    await redis?.stop();
  });

  it('streams running answers to their end over SSE and the socket, and recovers when Redis answers again', async () => {
    const socket = await connectChats(app.baseUrl, { auth: { token } });
    // About 3 s each at 20 ms a word.
    const sse = readSse(await postSse(app.baseUrl, '/api/v1/messages/send', { content: words(150, 'f') }, auth()));
    const bySocket = await socket.ask('send_message', { content: words(150, 'g') });
    for (let i = 0; i < 4; i++) await sse.next();
    await socket.waitFor('assistant_delta', { where: (d) => d.message_id === bySocket.message_id });

    redis.freeze();
    const frozenAt = Date.now();
    const frames = await sse.all();
    expect(frames.at(-2)!.event).toBe('assistant_complete');
    expect(deltasOf(frames)).toBe(words(150, 'f'));
    const end = await socket.waitFor('assistant_complete', { where: (d) => d.message_id === bySocket.message_id, timeoutMs: 10_000 });
    expect(end.content).toBe(words(150, 'g'));
    // Redis waits are bounded (500 ms here), not one per frame: a 3 s answer ends in about 3 s.
    expect(Date.now() - frozenAt).toBeLessThan(8_000);

    await expect.poll(async () => (await request(app.baseUrl, 'GET', '/health/ready')).status, { timeout: 5000 }).toBe(503);
    expect((await request(app.baseUrl, 'GET', '/health/live')).status).toBe(200);
    // Still frozen: requests, socket events and new answers are served, not held by Redis.
    expect((await request(app.baseUrl, 'GET', '/api/v1/models')).status).toBe(200);
    expect(await socket.ask('ping', undefined, 3000)).toHaveProperty('timestamp');
    expect((await socket.ask('list_chats', {}, 3000)).total).toBeGreaterThan(0);
    const during = await readSse(await postSse(app.baseUrl, '/api/v1/messages/send', { content: words(20, 'd') }, auth(), AbortSignal.timeout(10_000))).all();
    expect(during.at(-2)!.event).toBe('assistant_complete');
    expect(deltasOf(during)).toBe(words(20, 'd'));
    const bySocketDuring = await socket.ask('send_message', { content: words(20, 'e') });
    expect((await socket.waitFor('assistant_complete', { where: (d) => d.message_id === bySocketDuring.message_id, timeoutMs: 10_000 })).content).toBe(words(20, 'e'));

    redis.thaw();
    await expect.poll(async () => (await request(app.baseUrl, 'GET', '/health/ready')).status, { timeout: 20_000, interval: 250 }).toBe(200);
    const after = await readSse(await postSse(app.baseUrl, '/api/v1/messages/send', { content: 'after the freeze' }, auth())).all();
    expect(after.at(-2)!.event).toBe('assistant_complete');
    // The logs that missed frames while Redis was silent are gone from Redis once it has run what
    // was queued (a resume on another instance replays the stored message, not a log with a gap);
    // the one written after the freeze is whole.
    const inspect = createClient({ url: redis.url });
    await inspect.connect();
    try {
      for (const id of [frames[0].data.message_id, bySocket.message_id]) {
        await expect.poll(() => inspect.exists(`frozen:gen:${id}`), { timeout: 5000 }).toBe(0);
      }
      const whole = await inspect.xRange(`frozen:gen:${after[0].data.message_id}`, '-', '+');
      expect(whole?.length).toBe(after.length + 1);
    } finally {
      await inspect.close();
    }
    await expect.poll(async () => (await db.query(`SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'`)).rows[0].n, { timeout: 10_000 }).toBe(0);
  }, 60_000);
});
