import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { registerUser, request } from '../support/http.js';
import { redisEnv } from '../support/redis.js';
import { closeAllSockets, connectChats, untilConnected, type TestSocket } from '../support/socket.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const GENERATION_EVENTS = ['assistant_typing', 'assistant_delta', 'assistant_complete', 'assistant_error'];

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
const deltasOf = (frames: { event: string; data: any }[]) => frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');

function streamOf(s: TestSocket, messageId: string, from = 0) {
  return s.received.slice(from).filter((r) => GENERATION_EVENTS.includes(r.event) && r.data?.message_id === messageId);
}

// Two instances on two ports sharing one PostgreSQL database and one Redis.
describe('two instances behind one Redis', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let token: string;
  const redis = redisEnv();
  const auth = () => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = {
      ...redis,
      ECHO_DELAY_MS: '15',
      INTERNAL_API_KEY: 'internal-key-0123456789abcdef',
      RATE_LIMIT_PER_MINUTE: '100000',
      SOCKET_EVENTS_PER_MINUTE: '100000',
    };
    a = await startTestApp({ env, database });
    b = await startTestApp({ env, database });
    token = (await registerUser(a.baseUrl)).token;
  });
  afterAll(async () => {
    closeAllSockets();
    await Promise.all([a?.close(), b?.close()]);
    await database?.drop();
    // The Socket.IO stream has no expiry: leave nothing of this run in the shared Redis.
    const client = createClient({ url: redis.REDIS_URL });
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${redis.REDIS_KEY_PREFIX}*`, COUNT: 500 })) if (keys.length > 0) await client.del(keys);
    await client.close();
  });

  it('delivers chat_created and the live stream of an SSE message on A to a socket on B', async () => {
    const onB = await connectChats(b.baseUrl, { auth: { token } });
    const onA = await connectChats(a.baseUrl, { auth: { token } });
    await Promise.all([onB.waitFor('usage_info'), onA.waitFor('usage_info')]);
    let fromB = onB.mark();
    const fromA = onA.mark();

    const first = await readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: 'Cluster chat' }, auth())).all();
    const chatId = first[0].data.chat_id;
    expect((await onB.waitFor('chat_created', { from: fromB })).chat).toMatchObject({ id: chatId, title: 'Cluster chat' });
    expect((await onA.waitFor('chat_created', { from: fromA })).chat.id).toBe(chatId);
    // usage_info after the generation reaches B as well.
    await onB.waitFor('usage_info', { from: fromB });

    expect(await onB.ask('join_chat', { chat_id: chatId })).toEqual({ chat_id: chatId });
    fromB = onB.mark();
    const reader = readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { chat_id: chatId, content: words(20, 'live') }, auth()));
    const typing = (await reader.next())!;
    // B sees the answer while A is still streaming it.
    await onB.waitFor('assistant_delta', { from: fromB, where: (d) => d.message_id === typing.data.message_id });
    const frames: SseFrame[] = await reader.all();
    expect(frames.at(-2)!.event).toBe('assistant_complete');
    await onB.waitFor('assistant_complete', { from: fromB, where: (d) => d.message_id === typing.data.message_id });
    await onB.waitFor('usage_info', { from: fromB });
    await Promise.all([onA.ask('ping'), onB.ask('ping')]);
    const seen = streamOf(onB, typing.data.message_id, fromB);
    expect(seen.map((r) => r.data)).toEqual(frames.slice(0, -1).map((f) => f.data));
    expect(deltasOf(seen)).toBe(words(20, 'live'));
    expect(onB.all('usage_info', fromB)).toHaveLength(1);
    // Once each, though every event travels through Redis.
    expect(onA.all('chat_created', fromA)).toHaveLength(1);
    expect(onB.all('chat_created')).toHaveLength(1);

    // Management events cross too: a rename on A reaches B once.
    const fromB2 = onB.mark();
    await onA.ask('rename_chat', { chat_id: chatId, title: 'Renamed on A' });
    expect((await onB.waitFor('chat_updated', { from: fromB2 })).chat.title).toBe('Renamed on A');
    await onB.ask('ping');
    expect(onB.all('chat_updated', fromB2)).toHaveLength(1);
  });

  it('resumes on B, with Last-Event-ID, a generation running on A: exactly the missing frames', async () => {
    const controller = new AbortController();
    const reader = readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: words(120, 'resume'), keep_generating: true }, auth(), controller.signal));
    for (let i = 0; i < 4; i++) await reader.next();
    controller.abort();
    const seen = [...reader.frames];
    const messageId = seen[0].data.message_id;

    const resumed = await fetch(`${b.baseUrl}/api/v1/messages/${messageId}/stream`, { headers: { ...auth(), 'last-event-id': seen.at(-1)!.id! } });
    expect(resumed.status).toBe(200);
    const rest = await readSse(resumed).all();
    // It was still running when B took over.
    expect(rest[0].event).toBe('assistant_delta');
    const all = [...seen, ...rest];
    expect(all.map((f) => f.id)).toEqual(all.map((_, i) => `${messageId}:${i + 1}`));
    expect(all.at(-2)!.event).toBe('assistant_complete');
    expect(all.at(-1)!.event).toBe('usage_info');
    expect(deltasOf(all)).toBe(words(120, 'resume'));
  });

  it('stops on B a generation running on A (HTTP and socket)', async () => {
    const reader = readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: words(300, 'stop') }, auth()));
    const typing = (await reader.next())!;
    await reader.next();
    const messageId = typing.data.message_id;
    const stop = await request(b.baseUrl, 'POST', `/api/v1/messages/${messageId}/stop`, { headers: auth() });
    expect(stop.status).toBe(202);
    expect(stop.body.message_id).toBe(messageId);
    const frames = await reader.all();
    expect(frames.find((f) => f.event === 'assistant_error')?.data).toMatchObject({ code: 'STOPPED', message_id: messageId });
    expect(frames.some((f) => f.event === 'assistant_complete')).toBe(false);
    expect(deltasOf(frames).length).toBeLessThan(words(300, 'stop').length);

    // The same from a socket on B, for a socket-driven generation on A.
    const onA = await connectChats(a.baseUrl, { auth: { token } });
    const onB = await connectChats(b.baseUrl, { auth: { token } });
    const from = onA.mark();
    const sent = await onA.ask('send_message', { content: words(300, 'sock') });
    await onA.waitFor('assistant_delta', { from, where: (d) => d.message_id === sent.message_id });
    expect(await onB.ask('stop_message', { message_id: sent.message_id })).toMatchObject({ message_id: sent.message_id });
    expect(await onA.waitFor('assistant_error', { from, where: (d) => d.message_id === sent.message_id })).toMatchObject({ code: 'STOPPED' });
    const list = await onB.ask('list_messages', { chat_id: sent.chat_id });
    expect(list.messages[1]).toMatchObject({ id: sent.message_id, status: 'stopped' });
  });

  it('routes POST /internal/emit on B to the target socket on A', async () => {
    const user = await registerUser(b.baseUrl);
    const onA = await connectChats(a.baseUrl, { auth: { token: user.token } });
    const res = await request(b.baseUrl, 'POST', '/internal/emit', {
      body: { target: { user_id: user.userId }, event: 'notice', data: { via: 'b' } },
      headers: { 'x-internal-api-key': 'internal-key-0123456789abcdef' },
    });
    expect(res.status).toBe(202);
    expect(await onA.waitFor('notice')).toEqual({ via: 'b' });
  });

  it('recovers a dropped socket through the Redis Streams adapter, with the events missed meanwhile', async () => {
    const s = await connectChats(b.baseUrl, { auth: { token } });
    const other = await connectChats(a.baseUrl, { auth: { token } });
    const created = await readSse(await postSse(a.baseUrl, '/api/v1/messages/send', { content: 'recover on B' }, auth())).all();
    const chatId = created[0].data.chat_id;
    await s.waitFor('chat_created', { where: (d) => d.chat.id === chatId });
    const from = s.mark();

    const sessionsOnB = async () => (await request(b.baseUrl, 'GET', '/health')).body.active_sessions as number;
    const before = await sessionsOnB();
    s.socket.io.engine.close();
    await expect.poll(sessionsOnB, { timeout: 5000 }).toBe(before - 1);

    await other.ask('rename_chat', { chat_id: chatId, title: 'renamed on A while B was away' });
    await other.waitFor('chat_updated', { where: (d) => d.chat.title === 'renamed on A while B was away' });
    await untilConnected(s.socket);
    expect(s.socket.recovered).toBe(true);
    expect((await s.waitFor('chat_updated', { from })).chat.title).toBe('renamed on A while B was away');
    await s.ask('ping');
    expect(s.all('chat_updated', from)).toHaveLength(1);
  });
});
