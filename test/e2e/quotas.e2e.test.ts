import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/llm/tokens.js';
import { estimateCredits } from '../../src/usage/usage-rules.js';
import { UsageService } from '../../src/usage/usage.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FAKE_LONG_CHUNKS, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { registerUser, request } from '../support/http.js';
import { redisEnv } from '../support/redis.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

// Issue 5's claims through the whole app, as clients see them: fetch reading the stream,
// socket.io-client, real PostgreSQL. Every scenario runs on one instance and on two instances
// sharing one PostgreSQL (and one Redis), with requests spread across both.

const ANON_LIMIT = 4;
const ADDRESS_LIMIT = 5;
const INITIAL_CREDITS = 97;
// 1 credit per token, so charges can be checked against token counts exactly.
const PRICE = { inputPrice: 1000, outputPrice: 1000 };

// Anonymous scenarios other than the address one send X-Forwarded-For (TRUST_PROXY=true) with an
// address of their own, so the address quota of one scenario never eats into another's.
let addressCounter = 0;
const nextAddress = () => `198.51.100.${++addressCounter}`;

interface Sent {
  status: number;
  headers: Headers;
  frames: SseFrame[];
}

async function send(baseUrl: string, body: Record<string, unknown>, headers: Record<string, string>): Promise<Sent> {
  const res = await postSse(baseUrl, '/api/v1/messages/send', body, headers);
  return { status: res.status, headers: res.headers, frames: await readSse(res).all() };
}

const completed = (s: Sent) => s.status === 200 && s.frames.some((f) => f.event === 'assistant_complete') && s.frames.at(-1)?.event === 'usage_info';

// A refusal before generation: the status, and a text/event-stream body of one assistant_error frame.
function expectRefusal(s: Sent, status: number, code: string, retryable = false): Record<string, unknown> {
  expect(s.status).toBe(status);
  expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(s.frames.map((f) => f.event)).toEqual(['assistant_error']);
  expect(s.frames[0].data).toMatchObject({ code, retryable, status_code: status });
  return s.frames[0].data as Record<string, unknown>;
}

interface Listener {
  socket: Socket;
  usage: any[];
  errors: any[];
}

async function listen(baseUrl: string, auth: Record<string, string>, address?: string): Promise<Listener> {
  const socket = io(`${baseUrl}/chats`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth,
    extraHeaders: address ? { 'x-forwarded-for': address } : {},
  });
  const listener: Listener = { socket, usage: [], errors: [] };
  socket.on('usage_info', (data: unknown) => listener.usage.push(data));
  socket.on('assistant_error', (data: unknown) => listener.errors.push(data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  // usage_info is pushed on connect.
  await expect.poll(() => listener.usage.length, { timeout: 5000 }).toBeGreaterThan(0);
  return listener;
}

const modes = [
  { name: 'one instance', instances: 1 },
  { name: 'two instances sharing one PostgreSQL and one Redis', instances: 2 },
];

describe.each(modes)('quotas and credits end to end: $name', ({ instances }) => {
  let database: TestDatabase;
  let fake: FakeAnthropic;
  let apps: TestApp[] = [];
  let limited: TestApp[] = [];
  let capped: TestApp[] = [];
  let db: pg.Client;
  const sockets: Socket[] = [];
  // Request i goes to instance i mod n.
  const at = (i: number) => apps[i % apps.length].baseUrl;

  beforeAll(async () => {
    database = await createTestDatabase();
    fake = await startFakeAnthropic();
    const shared = instances > 1 ? redisEnv() : {};
    const env = {
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: fake.url,
      MODELS: 'anthropic=claude-sonnet-5',
      DEFAULT_MODEL: 'echo',
      MODEL_PRICES: `echo=${PRICE.inputPrice}/${PRICE.outputPrice},claude-sonnet-5=${PRICE.inputPrice}/${PRICE.outputPrice}`,
      ANON_MESSAGE_LIMIT: String(ANON_LIMIT),
      ANON_IP_MESSAGE_LIMIT: String(ADDRESS_LIMIT),
      USER_INITIAL_CREDITS: String(INITIAL_CREDITS),
      TRUST_PROXY: 'true',
      RATE_LIMIT_PER_MINUTE: '100000',
      // The quota claims below send many at once from one identity: the per-identity cap has a
      // test of its own.
      MAX_CONCURRENT_GENERATIONS: '1000',
      ...shared,
    };
    // The rate-limit scenario gets instances of its own with a limit of 3 (same database, and
    // with two instances a Redis namespace of their own, shared between those two).
    const limitedShared = instances > 1 ? redisEnv() : {};
    const limitedEnv = { USER_INITIAL_CREDITS: '100000', RATE_LIMIT_PER_MINUTE: '3', ...limitedShared };
    // And the per-identity cap scenario, instances with a cap of 2 running answers.
    const cappedEnv = { ...env, MAX_CONCURRENT_GENERATIONS: '2', ANON_MESSAGE_LIMIT: '100', ANON_IP_MESSAGE_LIMIT: '100', ...(instances > 1 ? redisEnv() : {}) };
    for (let i = 0; i < instances; i++) {
      apps.push(await startTestApp({ env, database }));
      limited.push(await startTestApp({ env: limitedEnv, database }));
      capped.push(await startTestApp({ env: cappedEnv, database }));
    }
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await db?.end();
    for (const t of [...apps, ...limited, ...capped]) await t.close();
    apps = [];
    limited = [];
    capped = [];
    await fake?.close();
    await database?.drop();
  });

  const ledger = async (userId: string) => {
    const account = (await db.query('SELECT balance::int AS balance, reserved::int AS reserved FROM credit_accounts WHERE user_id = $1', [userId])).rows[0];
    const sum = (await db.query('SELECT coalesce(sum(amount), 0)::int AS sum FROM credit_ledger WHERE user_id = $1', [userId])).rows[0].sum as number;
    const rows = (await db.query('SELECT kind, amount::int AS amount, message_key, input_tokens, output_tokens, estimated FROM credit_ledger WHERE user_id = $1 ORDER BY created_at, id', [userId])).rows;
    return { balance: account.balance as number, reserved: account.reserved as number, sum, rows };
  };

  it('50 concurrent sends from one anonymous id with 3 messages left: exactly 3 streams, 47 ANON_LIMIT_REACHED', async () => {
    const anon = randomUUID();
    const address = nextAddress();
    const headers = { 'x-anon-id': anon, 'x-forwarded-for': address };
    const listener = await listen(at(0), { anon_id: anon }, address);
    sockets.push(listener.socket);

    expect(completed(await send(at(1), { content: 'the first one' }, headers))).toBe(true);
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => send(at(i), { content: `burst ${i}` }, headers)));

    const ran = burst.filter(completed);
    const refused = burst.filter((s) => !completed(s));
    expect(ran).toHaveLength(ANON_LIMIT - 1);
    expect(refused).toHaveLength(47);
    const first = (await db.query('SELECT min(created_at) AS t FROM anon_usage WHERE anon_id = $1', [anon])).rows[0].t as Date;
    const resetsAt = new Date(first.getTime() + 24 * 3600_000).toISOString();
    for (const s of refused) expect(expectRefusal(s, 429, 'ANON_LIMIT_REACHED').resets_at).toBe(resetsAt);

    // Nothing of the refused requests was stored or counted.
    const counted = (await db.query('SELECT count(*)::int AS n FROM anon_usage WHERE anon_id = $1', [anon])).rows[0].n;
    expect(counted).toBe(ANON_LIMIT);
    const stored = (await db.query(`SELECT count(*)::int AS n FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.anon_id = $1 AND m.role = 'user'`, [anon])).rows[0].n;
    expect(stored).toBe(ANON_LIMIT);
    const last = ran.at(-1)!.frames.at(-1)!.data;
    expect(last).toMatchObject({ identity: 'anonymous', anon_id: anon, messages_limit: ANON_LIMIT });

    // Each refusal is also pushed to the identity's sockets, whichever instance refused it.
    await expect.poll(() => listener.errors.filter((e) => e.code === 'ANON_LIMIT_REACHED').length, { timeout: 5000 }).toBe(47);
    expect(listener.errors.every((e) => e.resets_at === resetsAt)).toBe(true);
    await expect.poll(() => listener.usage.at(-1)?.messages_remaining, { timeout: 5000 }).toBe(0);

    // The same guard holds on the other paths: regenerate over HTTP, send_message on the socket.
    const chatId = ran[0].frames[0].data.chat_id as string;
    const regenerate = await postSse(at(1), '/api/v1/messages/regenerate', { chat_id: chatId }, headers);
    expectRefusal({ status: regenerate.status, headers: regenerate.headers, frames: await readSse(regenerate).all() }, 429, 'ANON_LIMIT_REACHED');
    const viaSocket = await listener.socket.timeout(5000).emitWithAck('send_message', { content: 'one more over the socket' });
    expect(viaSocket).toMatchObject({ error: { code: 'ANON_LIMIT_REACHED', resets_at: resetsAt } });
    expect((await db.query('SELECT count(*)::int AS n FROM anon_usage WHERE anon_id = $1', [anon])).rows[0].n).toBe(ANON_LIMIT);
  });

  it('50 concurrent sends from 50 fresh anonymous ids on one address: exactly ANON_IP_MESSAGE_LIMIT streams', async () => {
    // No X-Forwarded-For: the real peer address, 127.0.0.1, used by no other scenario here.
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => send(at(i), { content: `visitor ${i}` }, { 'x-anon-id': randomUUID() })));
    const ran = burst.filter(completed);
    expect(ran).toHaveLength(ADDRESS_LIMIT);
    const refused = burst.filter((s) => !completed(s));
    expect(refused).toHaveLength(50 - ADDRESS_LIMIT);
    for (const s of refused) expect(expectRefusal(s, 429, 'ANON_LIMIT_REACHED').resets_at).toEqual(expect.any(String));
    const counted = (await db.query(`SELECT count(*)::int AS n FROM anon_usage WHERE client_address = '127.0.0.1'`)).rows[0].n;
    expect(counted).toBe(ADDRESS_LIMIT);
  });

  it('the usage_info closing each stream counts the address quota as well as the id quota', async () => {
    const address = nextAddress();
    const remaining: number[] = [];
    for (let i = 0; i < ADDRESS_LIMIT; i++) {
      const s = await send(at(i), { content: `one of many ids ${i}` }, { 'x-anon-id': randomUUID(), 'x-forwarded-for': address });
      expect(completed(s)).toBe(true);
      remaining.push(s.frames.at(-1)!.data.messages_remaining as number);
    }
    // min(id quota left, address quota left): min(3, 4), min(3, 3), min(3, 2), ...
    expect(remaining).toEqual([3, 3, 2, 1, 0]);
    const next = await send(at(ADDRESS_LIMIT), { content: 'and another id' }, { 'x-anon-id': randomUUID(), 'x-forwarded-for': address });
    expectRefusal(next, 429, 'ANON_LIMIT_REACHED');
  });

  it('a user whose credits cover k requests sends 40 at once: k run, the rest INSUFFICIENT_BALANCE, balance = ledger sum', async () => {
    const user = await registerUser(at(0));
    const auth = { authorization: `Bearer ${user.token}` };
    // 39 characters (10 tokens) answered by echo up to max_tokens = 5: the charge equals the hold,
    // so credits freed by a finished generation never let a later one in, whatever the timing.
    const content = 'abcd '.repeat(8).trim();
    const maxTokens = 5;
    const hold = estimateCredits({ id: 'echo', ...PRICE }, estimateTokens(content), maxTokens);
    expect(hold).toBe(15);
    const k = Math.floor(INITIAL_CREDITS / hold);

    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => send(at(i), { content, max_tokens: maxTokens }, auth)));
    const ran = burst.filter(completed);
    const refused = burst.filter((s) => !completed(s));
    expect(ran.length).toBeGreaterThanOrEqual(1);
    expect(ran.length).toBeLessThanOrEqual(k);
    expect(ran.length).toBe(k);
    expect(refused).toHaveLength(40 - ran.length);
    for (const s of refused) expect(expectRefusal(s, 402, 'INSUFFICIENT_BALANCE').credits_required).toBe(hold);

    const { balance, reserved, sum, rows } = await ledger(user.userId);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(balance).toBe(sum);
    expect(reserved).toBe(0);
    const charges = rows.filter((r) => r.kind === 'charge');
    expect(charges).toHaveLength(ran.length);
    expect(rows.filter((r) => r.kind === 'reserve')).toHaveLength(ran.length);
    expect(balance).toBe(INITIAL_CREDITS - charges.reduce((total, r) => total - r.amount, 0));
    expect(balance).toBe(INITIAL_CREDITS - k * hold);

    const me = await request(at(1), 'GET', '/api/v1/auth/me', { headers: auth });
    expect(me.status).toBe(200);
    expect(me.body.usage).toMatchObject({ identity: 'user', user_id: user.userId, credits_balance: balance, credits_reserved: 0, messages_used: ran.length });
    expect(ran.at(-1)!.frames.at(-1)!.data.credits_balance).toBeGreaterThanOrEqual(balance);
  });

  it('a stream cut midway is charged only for what was produced, marked estimated', async () => {
    const user = await registerUser(at(0));
    await apps[0].app.get(UsageService).grant(user.userId, 5000, 'test: room for a long answer');
    const before = (await ledger(user.userId)).balance;
    const content = `cut me short ${fakeMarker('long')}`;
    const maxTokens = 2000;

    const controller = new AbortController();
    const res = await postSse(at(1), '/api/v1/messages/send', { content, model: 'claude-sonnet-5', max_tokens: maxTokens }, { authorization: `Bearer ${user.token}` }, controller.signal);
    expect(res.status).toBe(200);
    const reader = readSse(res);
    let deltas = 0;
    while (deltas < 3) if ((await reader.next())?.event === 'assistant_delta') deltas++;
    controller.abort();
    const messageId = reader.frames[0].data.message_id as string;
    const received = reader.frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');

    await expect.poll(async () => (await ledger(user.userId)).rows.some((r) => r.message_key === messageId && r.kind === 'charge'), { timeout: 5000 }).toBe(true);
    const message = (await db.query('SELECT status, content FROM messages WHERE id = $1', [messageId])).rows[0];
    expect(message.status).toBe('stopped');
    expect(message.content.startsWith(received)).toBe(true);

    const { balance, reserved, sum, rows } = await ledger(user.userId);
    const mine = rows.filter((r) => r.message_key === messageId);
    const input = estimateTokens(content);
    const output = estimateTokens(message.content);
    expect(mine.map((r) => r.kind)).toEqual(['reserve', 'release', 'charge']);
    expect(mine[0].amount).toBe(-(input + maxTokens));
    expect(mine[1].amount).toBe(input + maxTokens);
    expect(mine[2]).toMatchObject({ estimated: true, input_tokens: input, output_tokens: output, amount: -(input + output) });
    // A full answer would have cost input + ~475 output tokens.
    const fullPrice = input + estimateTokens(FAKE_LONG_CHUNKS.join(''));
    expect(-mine[2].amount * 5).toBeLessThan(fullPrice);
    expect(balance).toBe(before - (input + output));
    expect(balance).toBe(sum);
    expect(reserved).toBe(0);
  });

  it('a generation the provider refuses before producing anything costs nothing and does not count', async () => {
    const user = await registerUser(at(0));
    fake.enqueue({ kind: 'http-error', status: 400 });
    const failed = await send(at(1), { content: 'refused upstream', model: 'claude-sonnet-5', max_tokens: 20 }, { authorization: `Bearer ${user.token}` });
    expect(failed.status).toBe(200);
    expect(failed.frames.find((f) => f.event === 'assistant_error')?.data.code).toBe('PROVIDER_ERROR');
    const { balance, reserved, sum, rows } = await ledger(user.userId);
    expect(rows.map((r) => r.kind)).toEqual(['grant', 'reserve', 'refund']);
    expect([balance, reserved, sum]).toEqual([INITIAL_CREDITS, 0, INITIAL_CREDITS]);

    const anon = randomUUID();
    fake.enqueue({ kind: 'http-error', status: 400 });
    const anonFailed = await send(at(0), { content: 'refused upstream', model: 'claude-sonnet-5' }, { 'x-anon-id': anon, 'x-forwarded-for': nextAddress() });
    expect(anonFailed.frames.at(-1)!.data).toMatchObject({ anon_id: anon, messages_used: 0, messages_remaining: ANON_LIMIT });
  });

  it('a retried client_message_id is never charged twice, concurrent or later, on any instance', async () => {
    const user = await registerUser(at(0));
    const auth = { authorization: `Bearer ${user.token}` };
    const body = { content: 'charge me once', max_tokens: 10, client_message_id: randomUUID() };
    const pair = await Promise.all([send(at(0), body, auth), send(at(1), body, auth)]);
    const later = await send(at(1), body, auth);
    const all = [...pair, later];
    for (const s of all) expect(completed(s)).toBe(true);
    const messageId = pair[0].frames[0].data.message_id as string;
    expect(all.map((s) => s.frames[0].data.message_id)).toEqual([messageId, messageId, messageId]);

    const { balance, sum, reserved, rows } = await ledger(user.userId);
    const charges = rows.filter((r) => r.kind === 'charge');
    expect(charges).toHaveLength(1);
    expect(charges[0].message_key).toBe(messageId);
    expect(balance).toBe(INITIAL_CREDITS + charges[0].amount);
    expect(balance).toBe(sum);
    expect(reserved).toBe(0);
    const userMessages = (await db.query(`SELECT count(*)::int AS n FROM messages WHERE client_message_id = $1`, [body.client_message_id])).rows[0].n;
    expect(userMessages).toBe(1);
  });

  it('RATE_LIMIT_PER_MINUTE=3: the 4th request is refused with RATE_LIMITED and Retry-After, across instances', async () => {
    const at3 = (i: number) => limited[i % limited.length].baseUrl;
    const user = await registerUser(at3(0));
    const auth = { authorization: `Bearer ${user.token}` };
    for (let i = 0; i < 3; i++) expect(completed(await send(at3(i), { content: `within the limit ${i}` }, auth))).toBe(true);
    const fourth = await send(at3(3), { content: 'one too many' }, auth);
    const error = expectRefusal(fourth, 429, 'RATE_LIMITED', true);
    const retryAfter = Number(fourth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(error.retry_after_ms).toEqual(expect.any(Number));
    // Refused before anything ran: three charges, no fourth message.
    expect((await ledger(user.userId)).rows.filter((r) => r.kind === 'charge')).toHaveLength(3);
    // The budget is per identity: another user is not affected.
    const other = await registerUser(at3(1));
    expect(completed(await send(at3(1), { content: 'someone else' }, { authorization: `Bearer ${other.token}` }))).toBe(true);
  });

  it('MAX_CONCURRENT_GENERATIONS=2: of four concurrent sends from one visitor, over HTTP and the socket, two stream and two get CONCURRENCY_LIMIT', async () => {
    const atCapped = (i: number) => capped[i % capped.length].baseUrl;
    const anon = randomUUID();
    const headers = { 'x-anon-id': anon };
    const listener = await listen(atCapped(1), { anon_id: anon });
    sockets.push(listener.socket);
    // Long enough (120 words, 5 ms apart) that the first two still run when the others arrive.
    const content = Array.from({ length: 120 }, (_, i) => `w${i}`).join(' ');
    const [a, b, c, viaSocket] = await Promise.all([
      send(atCapped(0), { content }, headers),
      send(atCapped(1), { content }, headers),
      send(atCapped(2), { content }, headers),
      listener.socket.timeout(10_000).emitWithAck('send_message', { content }),
    ]);
    const http = [a, b, c];
    const socketRan = !('error' in viaSocket);
    expect(http.filter(completed).length + (socketRan ? 1 : 0)).toBe(2);
    const refusedHttp = http.filter((s) => !completed(s));
    for (const s of refusedHttp) expectRefusal(s, 429, 'CONCURRENCY_LIMIT', true);
    if (!socketRan) expect(viaSocket).toMatchObject({ error: { code: 'CONCURRENCY_LIMIT' } });
    // Nothing of the refused sends was stored or counted.
    const stored = (await db.query(`SELECT count(*)::int AS n FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.anon_id = $1 AND m.role = 'user'`, [anon])).rows[0].n;
    expect(stored).toBe(2);
    // Once they have finished, the next one runs.
    await expect.poll(async () => (await db.query(`SELECT count(*)::int AS n FROM messages WHERE owner_key = $1 AND status = 'streaming'`, [`a:${anon}`])).rows[0].n, { timeout: 10_000 }).toBe(0);
    expect(completed(await send(atCapped(0), { content: 'and now one more' }, headers))).toBe(true);
  });

  it('usage_info on the sockets changes right after each message, whichever transport ran it (anonymous)', async () => {
    const anon = randomUUID();
    const address = nextAddress();
    const a = await listen(at(0), { anon_id: anon }, address);
    const b = await listen(at(1), { anon_id: anon }, address);
    sockets.push(a.socket, b.socket);
    expect(a.usage[0]).toMatchObject({ identity: 'anonymous', anon_id: anon, messages_used: 0, messages_remaining: ANON_LIMIT });

    const viaHttp = await send(at(1), { content: 'over http' }, { 'x-anon-id': anon, 'x-forwarded-for': address });
    expect(completed(viaHttp)).toBe(true);
    expect(viaHttp.frames.at(-1)!.data).toMatchObject({ messages_used: 1 });
    for (const l of [a, b]) await expect.poll(() => l.usage.at(-1)?.messages_used, { timeout: 5000 }).toBe(1);
    expect(a.usage.at(-1).messages_remaining).toBe(ANON_LIMIT - 1);

    const ack = await a.socket.timeout(5000).emitWithAck('send_message', { content: 'over the socket' });
    expect(ack).toMatchObject({ message_id: expect.any(String) });
    for (const l of [a, b]) await expect.poll(() => l.usage.at(-1)?.messages_used, { timeout: 5000 }).toBe(2);
    expect(b.usage.at(-1).messages_remaining).toBe(ANON_LIMIT - 2);
  });

  it('usage_info on the sockets changes right after each message, whichever transport ran it (user credits)', async () => {
    const user = await registerUser(at(0));
    const a = await listen(at(0), { token: user.token });
    const b = await listen(at(1), { token: user.token });
    sockets.push(a.socket, b.socket);
    expect(a.usage[0]).toMatchObject({ identity: 'user', user_id: user.userId, credits_balance: INITIAL_CREDITS, credits_reserved: 0, messages_used: 0 });

    const viaHttp = await send(at(1), { content: 'over http', max_tokens: 10 }, { authorization: `Bearer ${user.token}` });
    expect(completed(viaHttp)).toBe(true);
    const afterHttp = (await ledger(user.userId)).balance;
    expect(afterHttp).toBeLessThan(INITIAL_CREDITS);
    for (const l of [a, b]) await expect.poll(() => l.usage.at(-1)?.credits_balance, { timeout: 5000 }).toBe(afterHttp);
    expect(a.usage.at(-1)).toMatchObject({ messages_used: 1, credits_reserved: 0 });

    await a.socket.timeout(5000).emitWithAck('send_message', { content: 'over the socket', max_tokens: 10 });
    await expect.poll(async () => (await ledger(user.userId)).rows.filter((r) => r.kind === 'charge').length, { timeout: 5000 }).toBe(2);
    const afterSocket = (await ledger(user.userId)).balance;
    expect(afterSocket).toBeLessThan(afterHttp);
    for (const l of [a, b]) await expect.poll(() => l.usage.at(-1)?.credits_balance, { timeout: 5000 }).toBe(afterSocket);
    expect(b.usage.at(-1)).toMatchObject({ messages_used: 2, credits_reserved: 0 });
  });
});
