import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { fakeAnthropicEnv, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { redisEnv } from '../support/redis.js';
import { chatsSocket } from '../support/socket.js';
import { postSse, readSse } from '../support/sse.js';

// What an operator watches: the probes, /metrics with the contract's names and real values, and
// a log line per socket event.

// The value of one sample in Prometheus text, e.g. metric('chat_generations_total', {model: 'echo', status: 'complete'}).
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[4]);
  }
  return undefined;
}

const scrape = async (t: TestApp) => {
  const res = await fetch(`${t.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};

describe('operations: probes, metrics, socket event logs', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  const logLines: string[] = [];

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: { ...fakeAnthropicEnv(fake), DEFAULT_MODEL: 'echo', LOG_LEVEL: 'debug' }, logLines });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('answers liveness and readiness apart; /health stays as it was', async () => {
    const live = await fetch(`${t.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${t.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'up', redis: 'off', draining: false });
    const health = await fetch(`${t.baseUrl}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'up', active_streams: 0 });
  });

  it('counts generations, tokens, time to first delta, refusals and provider errors by the contract names', async () => {
    const before = await scrape(t);
    const anon = { 'x-anon-id': randomUUID() };
    const socket = chatsSocket(t.baseUrl, { auth: { anon_id: anon['x-anon-id'] } });
    socket.socket.connect();
    await socket.waitFor('usage_info');

    const ok = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'count me please' }, anon)).all();
    expect(ok.at(-2)?.event).toBe('assistant_complete');
    const refused = await postSse(t.baseUrl, '/api/v1/messages/send', { content: '' }, anon);
    expect(refused.status).toBe(400);
    const overloaded = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: `hi ${fakeMarker('overloaded-early')}`, model: 'claude-sonnet-5' }, anon)).all();
    expect(overloaded.at(-2)?.data).toMatchObject({ code: 'PROVIDER_OVERLOADED' });

    const after = await scrape(t);
    const grew = (name: string, labels: Record<string, string>) => (metric(after, name, labels) ?? 0) - (metric(before, name, labels) ?? 0);
    expect(grew('chat_generations_total', { model: 'echo', status: 'complete' })).toBe(1);
    expect(grew('chat_generations_total', { model: 'claude-sonnet-5', status: 'error' })).toBe(1);
    expect(grew('chat_generation_ttft_seconds_count', { model: 'echo' })).toBe(1);
    expect(grew('chat_generation_duration_seconds_count', { model: 'echo' })).toBe(1);
    expect(metric(after, 'chat_generation_ttft_seconds_sum', { model: 'echo' })).toBeGreaterThan(0);
    expect(grew('chat_tokens_total', { model: 'echo', direction: 'output' })).toBeGreaterThan(0);
    expect(grew('chat_tokens_total', { model: 'echo', direction: 'input' })).toBeGreaterThan(0);
    expect(grew('chat_refusals_total', { code: 'VALIDATION_ERROR' })).toBe(1);
    expect(grew('chat_provider_errors_total', { provider: 'anthropic', code: 'PROVIDER_OVERLOADED' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'chat_active_streams')).toBe(0);
    expect(metric(after, 'chat_socket_connections')).toBe(1);
    expect(metric(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metric(after, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    socket.close();
  });

  it('logs one JSON line per socket event at debug, a refused one at info, and acks an unknown event with VALIDATION_ERROR', async () => {
    const socket = chatsSocket(t.baseUrl, { auth: { anon_id: randomUUID() } });
    socket.socket.connect();
    await socket.waitFor('usage_info');
    expect(await socket.ask('list_chats', {})).toMatchObject({ chats: [] });
    expect(await socket.ask('rename_chat', { chat_id: 'nope', title: 'x' })).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    expect(await socket.ask('no_such_event', {})).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    const id = socket.socket.id;
    socket.close();

    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.socket === id);
    expect(lines.find((l) => l.event === 'list_chats')).toMatchObject({ level: 'debug', identity: 'anonymous', outcome: 'ok', ms: expect.any(Number) });
    expect(lines.find((l) => l.event === 'rename_chat')).toMatchObject({ level: 'info', outcome: 'VALIDATION_ERROR' });
    expect(lines.find((l) => l.event === 'no_such_event')).toMatchObject({ level: 'info', outcome: 'VALIDATION_ERROR' });
  });
});

describe('readiness with Redis', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: redisEnv() });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('says Redis is up', async () => {
    const ready = await fetch(`${t.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', redis: 'up' });
  });
});

describe('the instance ceiling (MAX_ACTIVE_GENERATIONS)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { MAX_ACTIVE_GENERATIONS: '1', ECHO_DELAY_MS: '20' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a send past it at once with SERVER_BUSY (503, retryable, Retry-After), and takes the next once one ends', async () => {
    const visitor = { 'x-anon-id': randomUUID() };
    const body = { content: 'one two three four five six seven eight', client_message_id: 'the-first' };
    const running = readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, visitor));
    expect((await running.next())?.event).toBe('assistant_typing');
    const refused = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'me too' }, { 'x-anon-id': randomUUID() });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await readSse(refused).all())[0].data).toMatchObject({ code: 'SERVER_BUSY', retryable: true });
    // A retry of the running request joins it: nothing new would run.
    const retried = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, visitor)).all();
    const first = await running.all();
    expect(retried.at(-2)).toMatchObject({ event: 'assistant_complete', data: { content: body.content } });
    expect(retried.at(-2)?.data.message_id).toBe(first[0].data.message_id);
    await expect.poll(async () => ((await (await fetch(`${t.baseUrl}/health`)).json()) as { active_streams: number }).active_streams).toBe(0);
    const next = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'now' }, { 'x-anon-id': randomUUID() })).all();
    expect(next.at(-2)?.event).toBe('assistant_complete');
  });
});
