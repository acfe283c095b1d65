import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FAKE_ANTHROPIC_REPLY, fakeMarker, startFakeAnthropic, type FakeAnthropic, fakeAnthropicEnv } from '../support/fake-anthropic.js';
import { request } from '../support/http.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const run = promisify(execFile);

const ANON = () => crypto.randomUUID();

function deltasOf(frames: SseFrame[]): string {
  return frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');
}

describe('the send stream over SSE', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let db: pg.Client;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({
      env: {
        ...fakeAnthropicEnv(fake),
        ANON_MESSAGE_LIMIT: '1000',
        ANON_IP_MESSAGE_LIMIT: '1000',
        SSE_PING_INTERVAL_MS: '300',
      },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const stored = async (id: string) => (await db.query('SELECT * FROM messages WHERE id = $1', [id])).rows[0];

  it('streams typing, deltas, complete and usage_info in order, with ids and the right headers', async () => {
    const anon = ANON();
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'Hello there' }, { 'x-anon-id': anon });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toMatch(/no-cache/);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const frames = await readSse(res).all();

    const events = frames.map((f) => f.event);
    expect(events[0]).toBe('assistant_typing');
    expect(events.at(-2)).toBe('assistant_complete');
    expect(events.at(-1)).toBe('usage_info');
    expect(events.slice(1, -2).every((e) => e === 'assistant_delta')).toBe(true);
    expect(events.filter((e) => e === 'assistant_delta').length).toBeGreaterThan(1);

    const typing = frames[0].data;
    const complete = frames.at(-2)!.data;
    expect(typing).toMatchObject({ model: 'claude-sonnet-5', chat_id: expect.any(String), user_message_id: expect.any(String), message_id: expect.any(String) });
    expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => `${typing.message_id}:${i + 1}`));
    expect(deltasOf(frames)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(complete).toMatchObject({ chat_id: typing.chat_id, message_id: typing.message_id, content: FAKE_ANTHROPIC_REPLY, model: 'claude-sonnet-5', stop_reason: 'end_turn' });
    expect(complete.usage.output_tokens).toBeGreaterThan(0);
    expect(frames.at(-1)!.data).toMatchObject({ identity: 'anonymous', anon_id: anon });

    const row = await stored(typing.message_id);
    expect(row).toMatchObject({ status: 'complete', content: FAKE_ANTHROPIC_REPLY, role: 'assistant' });
    const user = await stored(typing.user_message_id);
    expect(user).toMatchObject({ role: 'user', content: 'Hello there', status: 'complete' });
    const chat = (await db.query('SELECT * FROM chats WHERE id = $1', [typing.chat_id])).rows[0];
    expect(chat).toMatchObject({ anon_id: anon, title: 'Hello there' });
  });

  it('mints an anonymous id when none is sent and returns it', async () => {
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'no identity' });
    const anon = res.headers.get('x-anon-id');
    expect(anon).toMatch(/^[0-9a-f-]{36}$/);
    const frames = await readSse(res).all();
    expect(frames.at(-1)!.data.anon_id).toBe(anon);
  });

  it('continues a chat with its history sent to the model', async () => {
    const anon = ANON();
    const first = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'First question' }, { 'x-anon-id': anon })).all();
    const chatId = first[0].data.chat_id;
    await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { chat_id: chatId, content: 'Second question' }, { 'x-anon-id': anon })).all();
    const body = fake.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(body.messages[0].content)).toContain('First question');
    expect(JSON.stringify(body.messages[1].content)).toContain(FAKE_ANTHROPIC_REPLY);
  });

  it('aborting after the third delta closes the upstream connection and stores exactly those deltas as stopped', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 30 }, (_, i) => `part${i} `), chunkDelayMs: 250 });
    const controller = new AbortController();
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'long one' }, { 'x-anon-id': ANON() }, controller.signal);
    const reader = readSse(res);
    let deltas = 0;
    while (deltas < 3) {
      const frame = await reader.next();
      if (frame?.event === 'assistant_delta') deltas++;
    }
    const abortedAt = Date.now();
    controller.abort();
    const upstream = await fake.waitForClose(0, 2000);
    expect(upstream.closedByClient).toBe(true);
    expect(upstream.closedAt! - abortedAt).toBeLessThan(200);

    const messageId = reader.frames[0].data.message_id;
    await expect.poll(async () => (await stored(messageId)).status, { timeout: 3000 }).toBe('stopped');
    const row = await stored(messageId);
    expect(row.content).toBe(deltasOf(reader.frames));
    expect(row.content).toBe('part0 part1 part2 ');
    expect(row.stop_reason).toBe('client_disconnected');
  });

  it('stop from another request ends the stream with STOPPED and stores the message as stopped', async () => {
    const anon = ANON();
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: `stop me ${fakeMarker('long')}` }, { 'x-anon-id': anon });
    const reader = readSse(res);
    const typing = (await reader.next())!;
    await reader.next();
    const stop = await request(t.baseUrl, 'POST', `/api/v1/messages/${typing.data.message_id}/stop`, { headers: { 'x-anon-id': anon } });
    expect(stop.status).toBe(202);
    expect(stop.body).toEqual({ message_id: typing.data.message_id, status: 'stopped' });
    const frames = await reader.all();
    const error = frames.find((f) => f.event === 'assistant_error')!;
    expect(error.data).toMatchObject({ code: 'STOPPED', message_id: typing.data.message_id, retryable: false });
    expect(frames.at(-1)!.event).toBe('usage_info');
    const row = await stored(typing.data.message_id);
    expect(row.status).toBe('stopped');
    expect(row.content).toBe(deltasOf(frames));
    // Someone else cannot stop it, and gets the same answer as for an unknown message.
    const foreign = await request(t.baseUrl, 'POST', `/api/v1/messages/${typing.data.message_id}/stop`, { headers: { 'x-anon-id': ANON() } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('MESSAGE_NOT_FOUND');
  });

  it('resumes with Last-Event-ID: exactly the missing frames, then live, no duplicates', async () => {
    const anon = ANON();
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 12 }, (_, i) => `w${i} `), chunkDelayMs: 40 });
    const controller = new AbortController();
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'resume me', keep_generating: true }, { 'x-anon-id': anon }, controller.signal);
    const reader = readSse(res);
    await reader.next();
    await reader.next();
    await reader.next();
    controller.abort();
    const seen = [...reader.frames];
    const last = seen.at(-1)!.id!;
    const messageId = seen[0].data.message_id;

    const resumed = await fetch(`${t.baseUrl}/api/v1/messages/${messageId}/stream`, { headers: { 'x-anon-id': anon, 'last-event-id': last } });
    expect(resumed.status).toBe(200);
    const rest = await readSse(resumed).all();
    const all = [...seen, ...rest];
    expect(all.map((f) => f.id)).toEqual(all.map((_, i) => `${messageId}:${i + 1}`));
    expect(all.at(-2)!.event).toBe('assistant_complete');
    expect(deltasOf(all)).toBe(all.at(-2)!.data.content);
    expect((await stored(messageId)).status).toBe('complete');

    // A finished generation replays to its end; someone else's id is not found.
    const again = await readSse(await fetch(`${t.baseUrl}/api/v1/messages/${messageId}/stream`, { headers: { 'x-anon-id': anon, 'last-event-id': `${messageId}:2` } })).all();
    expect(again.map((f) => f.id)).toEqual(all.slice(2).map((f) => f.id));
    const foreign = await fetch(`${t.baseUrl}/api/v1/messages/${messageId}/stream`, { headers: { 'x-anon-id': ANON() } });
    expect(foreign.status).toBe(404);
    expect((await readSse(foreign).all())[0].data.code).toBe('MESSAGE_NOT_FOUND');
  });

  it.each([
    ['overloaded', 'PROVIDER_OVERLOADED', true],
    ['overloaded-early', 'PROVIDER_OVERLOADED', true],
    ['529', 'PROVIDER_OVERLOADED', true],
    ['429', 'PROVIDER_OVERLOADED', true],
    ['drop', 'PROVIDER_ERROR', true],
    ['error500', 'PROVIDER_ERROR', true],
  ] as const)('maps the upstream failure "%s" to %s and stores the message', async (marker, code, retryable) => {
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: `fail ${fakeMarker(marker)}` }, { 'x-anon-id': ANON() });
    expect(res.status).toBe(200);
    const frames = await readSse(res).all();
    const error = frames.find((f) => f.event === 'assistant_error');
    expect(error?.data).toMatchObject({ code, retryable, message_id: frames[0].data.message_id });
    expect(frames.at(-1)!.event).toBe('usage_info');
    const row = await stored(frames[0].data.message_id);
    expect(row.status).toBe('error');
    expect(row.error_code).toBe(code);
    expect(row.content).toBe(deltasOf(frames));
    expect((await request(t.baseUrl, 'GET', '/health')).status).toBe(200);
  });

  it('sends a ping comment when the stream is quiet', async () => {
    fake.enqueue({ kind: 'text', chunks: ['late ', 'answer'], firstTokenDelayMs: 800 });
    const reader = readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'slow' }, { 'x-anon-id': ANON() }));
    await reader.all();
    expect(reader.comments).toContain('ping');
    expect(deltasOf(reader.frames)).toBe('late answer');
  });

  it('a retry with the same client_message_id replays the same generation; another body conflicts', async () => {
    const anon = ANON();
    const body = { content: 'idempotent please', client_message_id: 'key-1' };
    const first = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, { 'x-anon-id': anon })).all();
    const second = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, { 'x-anon-id': anon })).all();
    expect(second.map((f) => [f.id, f.event])).toEqual(first.map((f) => [f.id, f.event]));
    expect(fake.requests.length).toBe(1);
    const count = await db.query(`SELECT count(*)::int AS n FROM messages WHERE chat_id = $1`, [first[0].data.chat_id]);
    expect(count.rows[0].n).toBe(2);

    const conflict = await postSse(t.baseUrl, '/api/v1/messages/send', { ...body, content: 'something else' }, { 'x-anon-id': anon });
    expect(conflict.status).toBe(409);
    expect((await readSse(conflict).all())[0]).toMatchObject({ event: 'assistant_error', data: { code: 'IDEMPOTENCY_CONFLICT' } });
  });

  it('concurrent retries with one key run one generation', async () => {
    const anon = ANON();
    const body = { content: 'race me', client_message_id: 'race-key' };
    const results = await Promise.all(Array.from({ length: 5 }, async () => readSse(await postSse(t.baseUrl, '/api/v1/messages/send', body, { 'x-anon-id': anon })).all()));
    const ids = new Set(results.map((frames) => frames[0].data.message_id));
    expect(ids.size).toBe(1);
    expect(fake.requests.length).toBe(1);
    for (const frames of results) expect(frames.at(-2)!.event).toBe('assistant_complete');
  });

  it('regenerates the last answer and marks the old one superseded', async () => {
    const anon = ANON();
    const first = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'Tell me' }, { 'x-anon-id': anon })).all();
    const { chat_id, message_id } = first[0].data;
    fake.enqueue({ kind: 'text', chunks: ['Another ', 'answer.'] });
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/regenerate', { chat_id }, { 'x-anon-id': anon })).all();
    expect(frames[0]).toMatchObject({ event: 'assistant_regenerating', data: { chat_id, replaces: message_id } });
    expect(frames.at(-2)).toMatchObject({ event: 'assistant_regenerated', data: { chat_id, content: 'Another answer.' } });
    expect(frames.at(-1)!.event).toBe('usage_info');
    expect((await stored(message_id)).status).toBe('superseded');
    const newId = frames[0].data.message_id;
    expect(await stored(newId)).toMatchObject({ status: 'complete', content: 'Another answer.', replaces_id: message_id });
    // The model saw the conversation without the superseded answer.
    const sent = fake.requests.at(-1)!.body as { messages: { role: string }[] };
    expect(sent.messages.map((m) => m.role)).toEqual(['user']);
  });

  it('refuses before generation with the status and one assistant_error frame', async () => {
    const anon = ANON();
    const cases: [unknown, Record<string, string>, number, string][] = [
      [{ content: '' }, { 'x-anon-id': anon }, 400, 'VALIDATION_ERROR'],
      [{ content: 'x', temperature: 2 }, { 'x-anon-id': anon }, 400, 'VALIDATION_ERROR'],
      [{ content: 'x', chat_id: crypto.randomUUID() }, { 'x-anon-id': anon }, 404, 'CHAT_NOT_FOUND'],
      [{ content: 'x', model: 'gpt-nope' }, { 'x-anon-id': anon }, 400, 'UNKNOWN_MODEL'],
      [{ content: 'x', max_tokens: 10_000_000 }, { 'x-anon-id': anon }, 400, 'VALIDATION_ERROR'],
      [{ content: 'x' }, { 'x-anon-id': 'nope' }, 400, 'INVALID_ANON_ID'],
      [{ content: 'x' }, { authorization: 'Bearer forged.token.here' }, 401, 'UNAUTHORIZED'],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await postSse(t.baseUrl, '/api/v1/messages/send', body, headers);
      expect(res.status, code).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const frames = await readSse(res).all();
      expect(frames).toHaveLength(1);
      expect(frames[0]).toMatchObject({ event: 'assistant_error', data: { code, retryable: false } });
    }
    // A body the JSON parser refuses is a refusal of the stream too.
    const garbled = await fetch(`${t.baseUrl}/api/v1/messages/send`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-anon-id': anon }, body: '{"content": ' });
    expect(garbled.status).toBe(400);
    expect(garbled.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await readSse(garbled).all())[0]).toMatchObject({ event: 'assistant_error', data: { code: 'VALIDATION_ERROR' } });
    // A chat that exists but belongs to someone else looks exactly like an unknown one.
    const other = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'mine' }, { 'x-anon-id': ANON() })).all();
    const foreign = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'x', chat_id: other[0].data.chat_id }, { 'x-anon-id': anon });
    expect(foreign.status).toBe(404);
    expect((await readSse(foreign).all())[0].data.code).toBe('CHAT_NOT_FOUND');
    expect(fake.requests.length).toBe(1);
  });

  it('lists the configured models', async () => {
    const res = await request(t.baseUrl, 'GET', '/api/v1/models');
    expect(res.status).toBe(200);
    expect(res.body.models).toEqual(expect.arrayContaining([{ id: 'claude-sonnet-5', provider: 'anthropic', default: true }, { id: 'echo', provider: 'echo', default: false }]));
  });
});

describe('test-sse and the echo model', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('a client that hangs up before the first frame still stops the generation', async () => {
    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const content = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
      const statuses: string[] = [];
      // Hang up a few milliseconds in: before or just after the engine has opened the generation.
      for (let attempt = 0; attempt < 30 && statuses.length < 3; attempt++) {
        const anon = ANON();
        const controller = new AbortController();
        const pending = postSse(t.baseUrl, '/api/v1/messages/send', { content }, { 'x-anon-id': anon }, controller.signal).catch(() => undefined);
        setTimeout(() => controller.abort(), 2 + attempt * 2);
        await pending;
        const query = `SELECT m.status FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.anon_id = $1 AND m.role = 'assistant'`;
        const statusNow = async (): Promise<string> => (await db.query(query, [anon])).rows[0]?.status ?? 'none';
        // The request may still be on its way in: give it a moment to create the message at all.
        await expect.poll(statusNow, { timeout: 1000 }).not.toBe('none').catch(() => undefined);
        if ((await statusNow()) === 'none') continue;
        await expect.poll(statusNow, { timeout: 3000 }).not.toBe('streaming');
        statuses.push(await statusNow());
      }
      expect(statuses.length).toBeGreaterThan(0);
      expect(new Set(statuses)).toEqual(new Set(['stopped']));
    } finally {
      await db.end();
    }
  });

  it('streams test_message frames then test_complete to curl -N', async () => {
    const { stdout } = await run('curl', ['-sN', `${t.baseUrl}/api/v1/messages/test-sse?count=3&interval_ms=20`]);
    const events = [...stdout.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events).toEqual(['test_message', 'test_message', 'test_message', 'test_complete']);
    const data = [...stdout.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]));
    expect(data.slice(0, 3).map((d) => d.counter)).toEqual([1, 2, 3]);
    expect(data[0]).toMatchObject({ message: expect.any(String), timestamp: expect.any(String) });
    expect(stdout).toMatch(/^id: .+:1$/m);
  });

  it('accepts POST and refuses out-of-range parameters', async () => {
    const ok = await fetch(`${t.baseUrl}/api/v1/messages/test-sse?count=1&interval_ms=0`, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect((await readSse(ok).all()).map((f) => f.event)).toEqual(['test_message', 'test_complete']);
    for (const query of ['count=0', 'count=51', 'interval_ms=9999', 'count=abc']) {
      const res = await fetch(`${t.baseUrl}/api/v1/messages/test-sse?${query}`);
      expect(res.status, query).toBe(400);
      expect((await readSse(res).all())[0].data.code).toBe('VALIDATION_ERROR');
    }
  });

  it('echoes the words back with the default echo model', async () => {
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'echo these  words\nplease' }, { 'x-anon-id': ANON() })).all();
    expect(frames[0].data.model).toBe('echo');
    expect(frames.filter((f) => f.event === 'assistant_delta').length).toBeGreaterThan(2);
    const complete = frames.find((f) => f.event === 'assistant_complete')!;
    expect(deltasOf(frames)).toBe(complete.data.content);
    expect(complete.data.content).toContain('echo these  words\nplease');
  });
});
