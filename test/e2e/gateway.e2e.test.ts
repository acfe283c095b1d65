import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { registerUser, request, uniqueEmail } from '../support/http.js';
import { closeAllSockets, connectChats, connectError, untilConnected, type TestSocket } from '../support/socket.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const INTERNAL_KEY = 'internal-key-0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const GENERATION_EVENTS = ['assistant_typing', 'assistant_delta', 'assistant_complete', 'assistant_error', 'assistant_regenerating', 'assistant_regenerated'];

const anonHeaders = (anon: string) => ({ 'x-anon-id': anon });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function sendSse(baseUrl: string, body: Record<string, unknown>, headers: Record<string, string>): Promise<SseFrame[]> {
  const res = await postSse(baseUrl, '/api/v1/messages/send', body, headers);
  expect(res.status).toBe(200);
  return readSse(res).all();
}

// Everything a socket has received since `from` about one generation, in order.
function streamOf(s: TestSocket, messageId: string, from = 0) {
  return s.received.slice(from).filter((r) => GENERATION_EVENTS.includes(r.event) && r.data?.message_id === messageId);
}

// A round trip on the socket: anything the server emitted to it before has arrived once this resolves.
async function flush(s: TestSocket): Promise<void> {
  await s.ask('ping', {});
}

describe('Socket.IO /chats gateway', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        INTERNAL_API_KEY: INTERNAL_KEY,
        ANON_MESSAGE_LIMIT: '1000',
        ANON_IP_MESSAGE_LIMIT: '100000',
        RATE_LIMIT_PER_MINUTE: '100000',
        SOCKET_EVENTS_PER_MINUTE: '100000',
      },
    });
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
  });

  const anonSocket = (anon: string) => connectChats(t.baseUrl, { auth: { anon_id: anon } });
  const userSocket = (token: string) => connectChats(t.baseUrl, { auth: { token } });

  describe('list_chats, list_messages, usage_info', () => {
    const anon = crypto.randomUUID();
    let s: TestSocket;
    let chatIds: string[];

    beforeAll(async () => {
      chatIds = [];
      for (const content of ['first chat', 'second chat', 'third chat']) {
        const frames = await sendSse(t.baseUrl, { content }, anonHeaders(anon));
        chatIds.push(frames[0].data.chat_id);
      }
      await sendSse(t.baseUrl, { chat_id: chatIds[0], content: 'a follow-up' }, anonHeaders(anon));
      s = await anonSocket(anon);
    });

    it('pushes usage_info on connect', async () => {
      const usage = await s.waitFor('usage_info');
      expect(usage).toMatchObject({ identity: 'anonymous', anon_id: anon, messages_used: 4, messages_limit: 1000, messages_remaining: 996 });
      expect(usage).toHaveProperty('resets_at');
    });

    it('lists chats newest first, paginated, by ack and by chats_list', async () => {
      const from = s.mark();
      const first = await s.ask('list_chats', { page: 0, limit: 2 });
      expect(first).toMatchObject({ page: 0, limit: 2, total: 3 });
      // The follow-up made the first chat the most recently active one.
      expect(first.chats.map((c: any) => c.title)).toEqual(['first chat', 'third chat']);
      expect(first.chats.map((c: any) => c.id)).toEqual([chatIds[0], chatIds[2]]);
      for (const chat of first.chats) {
        expect(Object.keys(chat).sort()).toEqual(['created_at', 'id', 'last_message_at', 'project_id', 'title', 'updated_at']);
        expect(chat.project_id).toBeNull();
        expect(chat.created_at).toMatch(ISO);
        expect(chat.last_message_at).toMatch(ISO);
      }
      expect(await s.waitFor('chats_list', { from })).toEqual(first);

      const second = await s.ask('list_chats', { page: 1, limit: 2 });
      expect(second).toMatchObject({ page: 1, limit: 2, total: 3 });
      expect(second.chats.map((c: any) => c.id)).toEqual([chatIds[1]]);

      // No payload at all, only an ack: the defaults.
      const all = await s.ask('list_chats');
      expect(all).toMatchObject({ page: 0, limit: 20, total: 3 });
      expect(all.chats).toHaveLength(3);
    });

    it('lists messages oldest first, paginated, by ack and by messages_list', async () => {
      const from = s.mark();
      const list = await s.ask('list_messages', { chat_id: chatIds[0] });
      expect(list).toMatchObject({ chat_id: chatIds[0], page: 0, limit: 50, total: 4 });
      expect(list.messages.map((m: any) => [m.role, m.content, m.status])).toEqual([
        ['user', 'first chat', 'complete'],
        ['assistant', 'first chat', 'complete'],
        ['user', 'a follow-up', 'complete'],
        ['assistant', 'a follow-up', 'complete'],
      ]);
      const answer = list.messages[1];
      expect(answer).toMatchObject({ id: expect.stringMatching(UUID), model: 'echo', created_at: expect.stringMatching(ISO) });
      expect(answer.usage).toEqual({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
      expect(answer.usage.output_tokens).toBeGreaterThan(0);
      expect(await s.waitFor('messages_list', { from })).toEqual(list);

      const page = await s.ask('list_messages', { chat_id: chatIds[0].toUpperCase(), page: 1, limit: 3 });
      expect(page).toMatchObject({ chat_id: chatIds[0], page: 1, limit: 3, total: 4 });
      expect(page.messages.map((m: any) => m.content)).toEqual(['a follow-up']);
    });

    it('answers usage_info by ack and by event, with or without a payload', async () => {
      const from = s.mark();
      const ack = await s.ask('usage_info', {});
      expect(ack).toMatchObject({ identity: 'anonymous', anon_id: anon, messages_used: 4 });
      expect(await s.waitFor('usage_info', { from })).toEqual(ack);
      expect(await s.ask('usage_info')).toEqual(ack);
    });

    it.each([
      ['list_chats', { limit: 0 }, /limit/],
      ['list_chats', { limit: 101 }, /limit/],
      ['list_chats', { page: 1e20 }, /page/],
      ['list_chats', { page: -1 }, /page/],
      ['list_chats', { limit: 2.5 }, /limit/],
      ['list_chats', { limit: '10' }, /limit/],
      ['list_chats', { extra: true }, /extra/],
      ['list_chats', 'not an object', /object/],
      ['list_messages', { chat_id: 'not-a-uuid' }, /chat_id/],
      ['list_messages', {}, /chat_id/],
      ['list_messages', { chat_id: crypto.randomUUID(), sort: 'desc' }, /sort/],
      ['rename_chat', { chat_id: crypto.randomUUID(), title: '   ' }, /title/],
      ['delete_chat', { chat_id: 42 }, /chat_id/],
      ['join_chat', { chat_id: null }, /chat_id/],
      ['stop_message', { message_id: 'x' }, /message_id/],
      ['send_message', { content: '' }, /content/],
      ['send_message', { content: 'hi', temperature: 3 }, /temperature/],
    ])('%s %j → VALIDATION_ERROR by ack and `error`, socket kept', async (event, payload, mentions) => {
      const from = s.mark();
      const ack = await s.ask(event, payload);
      expect(ack).toEqual({ error: { code: 'VALIDATION_ERROR', message: expect.stringMatching(mentions) } });
      expect(await s.waitFor('error', { from })).toEqual({ event, code: 'VALIDATION_ERROR', message: ack.error.message });
      expect(s.socket.connected).toBe(true);
      expect(await s.ask('ping', {})).toEqual({ timestamp: expect.stringMatching(ISO) });
    });

    it('keeps serving after refused events', async () => {
      expect((await request(t.baseUrl, 'GET', '/health')).status).toBe(200);
      expect((await s.ask('list_chats', {})).total).toBe(3);
    });

    it('answers ping with pong {timestamp} by ack and event', async () => {
      const from = s.mark();
      const before = Date.now();
      const ack = await s.ask('ping');
      expect(ack.timestamp).toMatch(ISO);
      expect(Date.parse(ack.timestamp)).toBeGreaterThanOrEqual(before - 1000);
      expect(await s.waitFor('pong', { from })).toEqual(ack);
    });
  });

  describe('chat_created, chat_updated, chat_deleted on every socket of the owner', () => {
    it('syncs two tabs of one user and nobody else', async () => {
      const user = await registerUser(t.baseUrl);
      const other = await registerUser(t.baseUrl);
      const tab1 = await userSocket(user.token);
      const tab2 = await userSocket(user.token);
      const stranger = await userSocket(other.token);
      await stranger.waitFor('usage_info');
      const strangerFrom = stranger.mark();

      const frames = await sendSse(t.baseUrl, { content: 'Plan a trip\nto the sea' }, bearer(user.token));
      const chatId = frames[0].data.chat_id;
      for (const tab of [tab1, tab2]) {
        const created = await tab.waitFor('chat_created');
        expect(created.chat).toMatchObject({ id: chatId, title: 'Plan a trip', created_at: expect.stringMatching(ISO) });
      }

      const from1 = tab1.mark();
      const from2 = tab2.mark();
      const renamed = await tab1.ask('rename_chat', { chat_id: chatId, title: '  Sea trip  ' });
      expect(renamed).toEqual({ chat: expect.objectContaining({ id: chatId, title: 'Sea trip' }) });
      expect(await tab1.waitFor('chat_updated', { from: from1 })).toEqual(renamed);
      expect(await tab2.waitFor('chat_updated', { from: from2 })).toEqual(renamed);

      const deleted = await tab2.ask('delete_chat', { chat_id: chatId });
      expect(deleted).toEqual({ chat_id: chatId });
      expect(await tab1.waitFor('chat_deleted', { from: from1 })).toEqual(deleted);
      expect(await tab2.waitFor('chat_deleted', { from: from2 })).toEqual(deleted);

      await Promise.all([flush(tab1), flush(tab2), flush(stranger)]);
      for (const [tab, from] of [[tab1, from1], [tab2, from2]] as const) {
        expect(tab.all('chat_updated', from)).toHaveLength(1);
        expect(tab.all('chat_deleted', from)).toHaveLength(1);
      }
      expect((await tab1.ask('list_chats', {})).total).toBe(0);
      expect((await tab1.ask('list_messages', { chat_id: chatId })).error.code).toBe('CHAT_NOT_FOUND');
      expect(stranger.received.slice(strangerFrom).map((r) => r.event)).toEqual(['pong']);
    });
  });

  describe('isolation between identities', () => {
    it("never delivers anything of user B's to user A's sockets", async () => {
      const a = await registerUser(t.baseUrl);
      const bAnon = crypto.randomUUID();
      const a1 = await userSocket(a.token);
      const a2 = await userSocket(a.token);
      const b1 = await anonSocket(bAnon);
      await Promise.all([a1.waitFor('usage_info'), a2.waitFor('usage_info'), b1.waitFor('usage_info')]);
      const fromA1 = a1.mark();
      const fromA2 = a2.mark();

      // B: a new chat over SSE, joined, a second message over SSE, then one over the socket.
      const first = await sendSse(t.baseUrl, { content: 'secret of B' }, anonHeaders(bAnon));
      const chatId = first[0].data.chat_id;
      await b1.waitFor('chat_created');
      expect(await b1.ask('join_chat', { chat_id: chatId })).toEqual({ chat_id: chatId });
      const fromB = b1.mark();
      const second = await sendSse(t.baseUrl, { chat_id: chatId, content: 'more secrets of B' }, anonHeaders(bAnon));
      await b1.waitFor('assistant_complete', { from: fromB, where: (d) => d.message_id === second[0].data.message_id });
      await b1.waitFor('usage_info', { from: fromB });
      const fromB2 = b1.mark();
      const sent = await b1.ask('send_message', { chat_id: chatId, content: 'socket secret of B' });
      await b1.waitFor('assistant_complete', { from: fromB2, where: (d) => d.message_id === sent.message_id });
      await b1.waitFor('usage_info', { from: fromB2 });
      await b1.ask('rename_chat', { chat_id: chatId, title: 'B renamed' });

      // A tries B's chat: the same answer as for a chat that does not exist.
      const unknown = crypto.randomUUID();
      for (const [event, payload] of [
        ['list_messages', { chat_id: chatId }],
        ['rename_chat', { chat_id: chatId, title: 'stolen' }],
        ['delete_chat', { chat_id: chatId }],
        ['join_chat', { chat_id: chatId }],
      ] as const) {
        const foreign = await a1.ask(event, payload);
        const missing = await a1.ask(event, { ...payload, chat_id: unknown });
        expect(foreign).toEqual({ error: { code: 'CHAT_NOT_FOUND', message: expect.any(String) } });
        expect(foreign).toEqual(missing);
      }
      const fromB3 = b1.mark();
      await sendSse(t.baseUrl, { chat_id: chatId, content: 'after the attempts' }, anonHeaders(bAnon));
      await b1.waitFor('assistant_complete', { from: fromB3 });
      await b1.waitFor('usage_info', { from: fromB3 });

      const list = await b1.ask('list_chats', {});
      expect(list.chats.map((c: any) => [c.id, c.title])).toEqual([[chatId, 'B renamed']]);
      await Promise.all([flush(a1), flush(a2)]);
      const seenByA = [...a1.received.slice(fromA1), ...a2.received.slice(fromA2)];
      expect(JSON.stringify(seenByA)).not.toMatch(/secret|B renamed/);
      expect(seenByA.filter((r) => !['pong', 'error'].includes(r.event))).toEqual([]);
    });
  });

  describe('live generation events', () => {
    it('pushes usage_info to every socket of the identity after an SSE generation, once', async () => {
      const anon = crypto.randomUUID();
      const s = await anonSocket(anon);
      expect((await s.waitFor('usage_info')).messages_used).toBe(0);
      const from = s.mark();
      await sendSse(t.baseUrl, { content: 'count me' }, anonHeaders(anon));
      expect((await s.waitFor('usage_info', { from })).messages_used).toBe(1);
      await flush(s);
      expect(s.all('usage_info', from)).toHaveLength(1);
      // Not joined: no generation events.
      expect(s.received.slice(from).filter((r) => GENERATION_EVENTS.includes(r.event))).toEqual([]);
    });

    it('shows a second tab that joined the chat the answer streaming over SSE in the first', async () => {
      const anon = crypto.randomUUID();
      const first = await sendSse(t.baseUrl, { content: 'hello' }, anonHeaders(anon));
      const chatId = first[0].data.chat_id;
      const tab2 = await anonSocket(anon);
      // Any spelling of the id joins the same room.
      expect(await tab2.ask('join_chat', { chat_id: chatId.toUpperCase() })).toEqual({ chat_id: chatId });
      const from = tab2.mark();

      const frames = await sendSse(t.baseUrl, { chat_id: chatId, content: 'one two three four five six' }, anonHeaders(anon));
      const messageId = frames[0].data.message_id;
      await tab2.waitFor('assistant_complete', { from, where: (d) => d.message_id === messageId });
      await tab2.waitFor('usage_info', { from });
      await flush(tab2);
      const seen = streamOf(tab2, messageId, from);
      const sse = frames.filter((f) => f.event !== 'usage_info');
      expect(seen.map((r) => r.event)).toEqual(sse.map((f) => f.event));
      expect(seen.map((r) => r.data)).toEqual(sse.map((f) => f.data));
      expect(seen.filter((r) => r.event === 'assistant_delta').map((r) => r.data.delta).join('')).toBe('one two three four five six');
      expect(tab2.all('usage_info', from)).toHaveLength(1);

      // After leave_chat, nothing more of that chat.
      expect(await tab2.ask('leave_chat', { chat_id: chatId })).toEqual({ chat_id: chatId });
      const afterLeave = tab2.mark();
      await sendSse(t.baseUrl, { chat_id: chatId, content: 'unseen' }, anonHeaders(anon));
      await tab2.waitFor('usage_info', { from: afterLeave });
      await flush(tab2);
      expect(tab2.received.slice(afterLeave).filter((r) => GENERATION_EVENTS.includes(r.event))).toEqual([]);
    });

    it('streams send_message to its sender exactly once, also when it joined the chat, and to the other tab', async () => {
      const user = await registerUser(t.baseUrl);
      const sender = await userSocket(user.token);
      const tab2 = await userSocket(user.token);
      await Promise.all([sender.waitFor('usage_info'), tab2.waitFor('usage_info')]);

      // A new chat from the socket: chat_created to both, the stream to the sender only.
      let from = sender.mark();
      let from2 = tab2.mark();
      const created = await sender.ask('send_message', { content: 'alpha beta gamma' });
      expect(created).toEqual({ chat_id: expect.stringMatching(UUID), message_id: expect.stringMatching(UUID) });
      await sender.waitFor('assistant_complete', { from, where: (d) => d.message_id === created.message_id });
      expect((await tab2.waitFor('chat_created', { from: from2 })).chat.id).toBe(created.chat_id);
      expect((await sender.waitFor('chat_created', { from })).chat.id).toBe(created.chat_id);
      await Promise.all([sender.waitFor('usage_info', { from }), tab2.waitFor('usage_info', { from: from2 })]);
      await Promise.all([flush(sender), flush(tab2)]);
      let stream = streamOf(sender, created.message_id, from);
      expect(stream[0]).toEqual({ event: 'assistant_typing', data: { chat_id: created.chat_id, user_message_id: expect.stringMatching(UUID), message_id: created.message_id, model: 'echo' } });
      expect(stream.at(-1)!.event).toBe('assistant_complete');
      expect(stream.slice(1, -1).every((r) => r.event === 'assistant_delta')).toBe(true);
      expect(stream.slice(1, -1).map((r) => r.data.delta).join('')).toBe('alpha beta gamma');
      expect(stream.at(-1)!.data).toMatchObject({ content: 'alpha beta gamma', model: 'echo', stop_reason: 'end_turn' });
      expect(streamOf(tab2, created.message_id, from2)).toEqual([]);
      expect(sender.all('usage_info', from)).toHaveLength(1);
      expect(tab2.all('usage_info', from2)).toHaveLength(1);
      expect(sender.all('chat_created', from)).toHaveLength(1);

      // Both join; the sender still sees each frame once, the other tab too.
      await sender.ask('join_chat', { chat_id: created.chat_id });
      await tab2.ask('join_chat', { chat_id: created.chat_id });
      from = sender.mark();
      from2 = tab2.mark();
      const next = await sender.ask('send_message', { chat_id: created.chat_id, content: 'delta epsilon zeta eta' });
      expect(next.chat_id).toBe(created.chat_id);
      await sender.waitFor('assistant_complete', { from, where: (d) => d.message_id === next.message_id });
      await tab2.waitFor('assistant_complete', { from: from2, where: (d) => d.message_id === next.message_id });
      await Promise.all([sender.waitFor('usage_info', { from }), tab2.waitFor('usage_info', { from: from2 })]);
      await Promise.all([flush(sender), flush(tab2)]);
      stream = streamOf(sender, next.message_id, from);
      const other = streamOf(tab2, next.message_id, from2);
      expect(other).toEqual(stream);
      expect(stream.filter((r) => r.event === 'assistant_typing')).toHaveLength(1);
      expect(stream.filter((r) => r.event === 'assistant_complete')).toHaveLength(1);
      expect(stream.filter((r) => r.event === 'assistant_delta').map((r) => r.data.delta).join('')).toBe('delta epsilon zeta eta');
      expect(sender.all('usage_info', from)).toHaveLength(1);
      expect(tab2.all('usage_info', from2)).toHaveLength(1);
      // The usage push comes after the answer.
      const order = sender.received.slice(from).map((r) => r.event);
      expect(order.indexOf('usage_info')).toBeGreaterThan(order.indexOf('assistant_complete'));
      expect((await sender.ask('usage_info')).identity).toBe('user');
    });

    it('stop_message stops a socket generation: message_stopped, then assistant_error STOPPED', async () => {
      const anon = crypto.randomUUID();
      const s = await anonSocket(anon);
      const from = s.mark();
      const content = Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ');
      const sent = await s.ask('send_message', { content });
      await s.waitFor('assistant_delta', { from, where: (d) => d.message_id === sent.message_id });
      const stopped = await s.ask('stop_message', { message_id: sent.message_id });
      expect(stopped).toMatchObject({ message_id: sent.message_id, status: 'stopped' });
      expect(await s.waitFor('message_stopped', { from })).toEqual(stopped);
      const error = await s.waitFor('assistant_error', { from, where: (d) => d.message_id === sent.message_id });
      expect(error).toMatchObject({ chat_id: sent.chat_id, code: 'STOPPED', retryable: false });
      await s.waitFor('usage_info', { from });
      await flush(s);
      const stream = streamOf(s, sent.message_id, from);
      expect(stream.some((r) => r.event === 'assistant_complete')).toBe(false);
      expect(stream.at(-1)!.event).toBe('assistant_error');
      const produced = stream.filter((r) => r.event === 'assistant_delta').map((r) => r.data.delta).join('');
      expect(produced.length).toBeLessThan(content.length);
      const list = await s.ask('list_messages', { chat_id: sent.chat_id });
      expect(list.messages[1]).toMatchObject({ id: sent.message_id, status: 'stopped', content: produced });
      // Someone else's message is not found.
      const stranger = await anonSocket(crypto.randomUUID());
      expect((await stranger.ask('stop_message', { message_id: sent.message_id })).error.code).toBe('MESSAGE_NOT_FOUND');
    });

    it('refuses send_message to an unknown chat with CHAT_NOT_FOUND', async () => {
      const s = await anonSocket(crypto.randomUUID());
      const from = s.mark();
      const ack = await s.ask('send_message', { chat_id: crypto.randomUUID(), content: 'hi' });
      expect(ack.error.code).toBe('CHAT_NOT_FOUND');
      expect(await s.waitFor('error', { from })).toMatchObject({ event: 'send_message', code: 'CHAT_NOT_FOUND' });
    });
  });

  describe('POST /internal/emit', () => {
    const emit = (body: unknown, key?: string) =>
      request(t.baseUrl, 'POST', '/internal/emit', { body, headers: key === undefined ? {} : { 'x-internal-api-key': key } });

    it('refuses a missing or wrong key with 401, before looking at the body', async () => {
      for (const key of [undefined, 'wrong-key-0123456789', '']) {
        const res = await emit({ target: { user_id: crypto.randomUUID() }, event: 'notice', data: {} }, key);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('UNAUTHORIZED');
      }
      expect((await emit({ nonsense: true })).status).toBe(401);
    });

    it('validates the body', async () => {
      const two = await emit({ target: { user_id: crypto.randomUUID(), anon_id: crypto.randomUUID() }, event: 'notice' }, INTERNAL_KEY);
      expect(two.status).toBe(400);
      expect(two.body.code).toBe('VALIDATION_ERROR');
      expect((await emit({ target: {}, event: 'notice' }, INTERNAL_KEY)).status).toBe(400);
      expect((await emit({ target: { user_id: crypto.randomUUID() }, event: 'disconnect' }, INTERNAL_KEY)).status).toBe(400);
    });

    it("reaches the target's sockets only", async () => {
      const user = await registerUser(t.baseUrl);
      const other = await registerUser(t.baseUrl);
      const anon = crypto.randomUUID();
      const u1 = await userSocket(user.token);
      const u2 = await userSocket(user.token);
      const o = await userSocket(other.token);
      const a = await anonSocket(anon);
      const marks = [u1, u2, o, a].map((s) => s.mark());

      const res = await emit({ target: { user_id: user.userId }, event: 'credits_added', data: { amount: 5 } }, INTERNAL_KEY);
      expect(res.status).toBe(202);
      expect(await u1.waitFor('credits_added', { from: marks[0] })).toEqual({ amount: 5 });
      expect(await u2.waitFor('credits_added', { from: marks[1] })).toEqual({ amount: 5 });
      expect((await emit({ target: { anon_id: anon.toUpperCase() }, event: 'notice', data: 'hi' }, INTERNAL_KEY)).status).toBe(202);
      expect(await a.waitFor('notice', { from: marks[3] })).toBe('hi');

      // A chat target reaches the sockets that joined it, not the owner's other sockets.
      const frames = await sendSse(t.baseUrl, { content: 'a chat' }, bearer(user.token));
      const chatId = frames[0].data.chat_id;
      await u1.ask('join_chat', { chat_id: chatId });
      const fromU2 = u2.mark();
      expect((await emit({ target: { chat_id: chatId }, event: 'chat_note', data: { n: 1 } }, INTERNAL_KEY)).status).toBe(202);
      expect(await u1.waitFor('chat_note', { from: marks[0] })).toEqual({ n: 1 });

      await Promise.all([flush(u1), flush(u2), flush(o), flush(a)]);
      expect(u2.all('chat_note', fromU2)).toEqual([]);
      expect(o.received.slice(marks[2]).map((r) => r.event)).toEqual(['pong']);
      expect(a.all('credits_added', marks[3])).toEqual([]);
      expect(u1.all('notice', marks[0])).toEqual([]);
    });
  });

  describe('/health', () => {
    const health = async () => (await request(t.baseUrl, 'GET', '/health')).body;

    it('counts connected identities and sockets, and forgets them on disconnect', async () => {
      closeAllSockets();
      await expect.poll(async () => (await health()).active_sessions, { timeout: 5000 }).toBe(0);
      expect((await health()).connected_users).toBe(0);

      const user = await registerUser(t.baseUrl);
      const anon = crypto.randomUUID();
      const sockets = [await userSocket(user.token), await userSocket(user.token), await anonSocket(anon)];
      await Promise.all(sockets.map((s) => s.waitFor('usage_info')));
      expect(await health()).toMatchObject({ status: 'ok', connected_users: 2, active_sessions: 3, database: 'up' });

      sockets[0].close();
      await expect.poll(async () => (await health()).active_sessions, { timeout: 5000 }).toBe(2);
      expect((await health()).connected_users).toBe(2);
      sockets[2].close();
      await expect.poll(async () => (await health()).active_sessions, { timeout: 5000 }).toBe(1);
      expect((await health()).connected_users).toBe(1);
      sockets[1].close();
      await expect.poll(async () => (await health()).active_sessions, { timeout: 5000 }).toBe(0);
      expect((await health()).connected_users).toBe(0);
    });
  });

  describe('connection state recovery', () => {
    const health = async () => (await request(t.baseUrl, 'GET', '/health')).body.active_sessions as number;

    // Drops the transport under the socket and waits until the server has noticed.
    async function drop(s: TestSocket): Promise<void> {
      const before = await health();
      const disconnected = new Promise<string>((resolve) => s.socket.once('disconnect', resolve));
      s.socket.io.engine.close();
      expect(await disconnected).not.toBe('io client disconnect');
      await expect.poll(health, { timeout: 5000 }).toBe(before - 1);
    }

    it('recovers a dropped socket with the events pushed meanwhile, its rooms and its running stream', async () => {
      const user = await registerUser(t.baseUrl);
      const s = await userSocket(user.token);
      const other = await userSocket(user.token);
      const frames = await sendSse(t.baseUrl, { content: 'recover me' }, bearer(user.token));
      const chatId = frames[0].data.chat_id;
      await s.ask('join_chat', { chat_id: chatId });

      // A long socket-driven generation is running when the connection drops.
      const from = s.mark();
      const content = Array.from({ length: 150 }, (_, i) => `r${i}`).join(' ');
      const sent = await s.ask('send_message', { chat_id: chatId, content });
      await s.waitFor('assistant_delta', { from, where: (d) => d.message_id === sent.message_id });
      await drop(s);

      await other.ask('rename_chat', { chat_id: chatId, title: 'renamed while away' });
      const frames2 = await sendSse(t.baseUrl, { chat_id: chatId, content: 'while away' }, bearer(user.token));

      await untilConnected(s.socket);
      expect(s.socket.recovered).toBe(true);
      const updated = await s.waitFor('chat_updated', { from });
      expect(updated.chat.title).toBe('renamed while away');
      // The joined room survived: the SSE answer sent meanwhile arrived.
      await s.waitFor('assistant_complete', { from, where: (d) => d.message_id === frames2[0].data.message_id });
      // The socket's own stream continues where it was, without gaps or repeats.
      const complete = await s.waitFor('assistant_complete', { from, where: (d) => d.message_id === sent.message_id, timeoutMs: 15_000 });
      const stream = streamOf(s, sent.message_id, from);
      expect(stream.filter((r) => r.event === 'assistant_typing')).toHaveLength(1);
      expect(stream.filter((r) => r.event === 'assistant_delta').map((r) => r.data.delta).join('')).toBe(complete.content);
      expect(complete.content).toBe(content);
      expect(streamOf(s, frames2[0].data.message_id, from).map((r) => r.data)).toEqual(frames2.slice(0, -1).map((f) => f.data));
    });

    it('runs the handshake check again: a recovery with a now invalid token is refused and gets nothing', async () => {
      const user = await registerUser(t.baseUrl);
      const s = await userSocket(user.token);
      const other = await userSocket(user.token);
      const frames = await sendSse(t.baseUrl, { content: 'private chat' }, bearer(user.token));
      const chatId = frames[0].data.chat_id;
      await s.waitFor('chat_created');
      await drop(s);

      await other.ask('rename_chat', { chat_id: chatId, title: 'missed while away' });
      const packets: unknown[] = [];
      s.socket.io.on('packet', (packet) => packets.push(packet));
      s.socket.auth = { token: 'expired.or.revoked' };
      const refused = await untilConnected(s.socket).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(refused?.message).toBe('UNAUTHORIZED');
      expect(JSON.stringify(packets)).not.toContain('missed while away');
    });

    it('a recovery with another identity does not restore the rooms or the missed events of the first', async () => {
      const user = await registerUser(t.baseUrl);
      const intruder = crypto.randomUUID();
      const s = await userSocket(user.token);
      const other = await userSocket(user.token);
      const frames = await sendSse(t.baseUrl, { content: 'mine' }, bearer(user.token));
      const chatId = frames[0].data.chat_id;
      await s.ask('join_chat', { chat_id: chatId });
      await drop(s);
      await other.ask('rename_chat', { chat_id: chatId, title: 'not for the next one' });

      const from = s.mark();
      const packets: unknown[] = [];
      s.socket.io.on('packet', (packet) => packets.push(packet));
      s.socket.auth = { anon_id: intruder };
      await untilConnected(s.socket);
      expect((await s.waitFor('usage_info', { from })).anon_id).toBe(intruder);
      await sendSse(t.baseUrl, { chat_id: chatId, content: 'later secret' }, bearer(user.token));
      await other.ask('rename_chat', { chat_id: chatId, title: 'later title' });
      await other.waitFor('chat_updated', { where: (d) => d.chat.title === 'later title' });
      await flush(s);
      expect(JSON.stringify(packets)).not.toMatch(/not for the next one|later secret|later title/);
      expect(s.received.slice(from).map((r) => r.event)).toEqual(['usage_info', 'pong']);
    });
    it('a recovered visitor tab leaves the chat and project rooms that moved to the account meanwhile, and gets none of their events', async () => {
      const anon = crypto.randomUUID();
      const chatId = (await sendSse(t.baseUrl, { content: 'visitor chat' }, anonHeaders(anon)))[0].data.chat_id;
      const projectId = (await request(t.baseUrl, 'POST', '/api/v1/projects', { body: { name: 'Visitor project' }, headers: anonHeaders(anon) })).body.project.id;
      const tabB = await anonSocket(anon);
      await tabB.ask('join_chat', { chat_id: chatId });
      await tabB.ask('join_project', { project_id: projectId });
      await drop(tabB);

      // In tab A the visitor signs up: the chat and the project move to the account, which
      // writes in the chat and renames the project while tab B is away.
      const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'long enough pw' }, headers: anonHeaders(anon) });
      expect(reg.status).toBe(201);
      const token = reg.body.access_token as string;
      const tabA = await userSocket(token);
      await tabA.ask('join_project', { project_id: projectId });
      const away = await sendSse(t.baseUrl, { chat_id: chatId, content: 'account words while away' }, bearer(token));
      expect((await request(t.baseUrl, 'PATCH', `/api/v1/projects/${projectId}`, { body: { name: 'renamed while away' }, headers: bearer(token) })).status).toBe(200);

      const from = tabB.mark();
      const packets: unknown[] = [];
      tabB.socket.io.on('packet', (packet) => packets.push(packet));
      await untilConnected(tabB.socket);
      expect(tabB.socket.recovered).toBe(true);
      // What the visitor's own room got meanwhile is handed over: the chat left it.
      await tabB.waitFor('chat_deleted', { from, where: (d) => d.chat_id === chatId });

      // Live events of the account's chat and project do not reach it either.
      const later = await sendSse(t.baseUrl, { chat_id: chatId, content: 'account words later' }, bearer(token));
      await request(t.baseUrl, 'PATCH', `/api/v1/projects/${projectId}`, { body: { name: 'renamed later' }, headers: bearer(token) });
      await tabA.waitFor('project_updated', { where: (d) => d.data.project?.name === 'renamed later' });
      await flush(tabB);
      for (const messageId of [away[0].data.message_id, later[0].data.message_id]) expect(streamOf(tabB, messageId)).toEqual([]);
      expect(JSON.stringify(packets)).not.toMatch(/account words|renamed while away|renamed later/);
      expect(tabB.all('project_updated', from)).toEqual([]);
      // It is a visitor with nothing of its own now.
      expect((await tabB.ask('list_chats', {})).total).toBe(0);
    });
  });

  describe('handshake identities', () => {
    it('accepts a token, an anon_id, or an x-anon-id header; refuses the rest with a code', async () => {
      const user = await registerUser(t.baseUrl);
      const anon = crypto.randomUUID();
      const viaToken = await userSocket(user.token);
      expect(await viaToken.waitFor('usage_info')).toMatchObject({ identity: 'user', user_id: user.userId });
      const viaAuth = await anonSocket(anon.toUpperCase());
      expect(await viaAuth.waitFor('usage_info')).toMatchObject({ identity: 'anonymous', anon_id: anon });
      const viaHeader = await connectChats(t.baseUrl, { transports: ['polling'], extraHeaders: { 'x-anon-id': anon } });
      expect(await viaHeader.waitFor('usage_info')).toMatchObject({ identity: 'anonymous', anon_id: anon });
      expect(viaHeader.socket.io.engine.transport.name).toBe('polling');
      expect(await viaHeader.ask('list_chats', {})).toMatchObject({ total: 0 });
      const viaBearerHeader = await connectChats(t.baseUrl, { transports: ['polling'], extraHeaders: { authorization: `Bearer ${user.token}` } });
      expect(await viaBearerHeader.waitFor('usage_info')).toMatchObject({ identity: 'user', user_id: user.userId });

      expect((await connectError(t.baseUrl, { auth: { token: 'not-a-jwt' } })).message).toBe('UNAUTHORIZED');
      expect((await connectError(t.baseUrl, { auth: { token: `${user.token}x` } })).message).toBe('UNAUTHORIZED');
      expect((await connectError(t.baseUrl, { auth: { anon_id: 'not-a-uuid' } })).message).toBe('INVALID_ANON_ID');
      expect((await connectError(t.baseUrl, { transports: ['polling'], extraHeaders: { 'x-anon-id': 'nope' } })).message).toBe('INVALID_ANON_ID');
      const none = await connectError(t.baseUrl, {});
      expect(none.message).toBe('IDENTITY_REQUIRED');
      expect(none.data).toEqual({ code: 'IDENTITY_REQUIRED', message: expect.any(String) });
    });
  });
});
