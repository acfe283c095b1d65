import pg from 'pg';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ChatApiError,
  connectChats,
  request,
  resume,
  sendMessage,
  stop,
  whenConnected,
  type AnswerStream,
  type ChatsSocket,
  type ChatView,
  type StreamFrame,
} from '../../client/src/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { startFakeAnthropic, type FakeAnthropic, fakeAnthropicEnv } from '../support/fake-anthropic.js';
import { registerUser } from '../support/http.js';

// The typed client (client/) used from Node against the real app, as a front end would use it.
const ANON = () => crypto.randomUUID();
const WORDS = Array.from({ length: 14 }, (_, i) => `word${i} `);

const deltas = (frames: StreamFrame[]) => frames.map((f) => (f.event === 'assistant_delta' ? f.data.delta : '')).join('');

// A fetch whose connections the test can cut, as a dropped network would: aborting one closes
// that HTTP request (the server sees the client go away) while the caller's own signal stays live.
function cuttableFetch() {
  const connections: { method: string; url: string; lastEventId: string | null; cut: () => void }[] = [];
  const fetchThrough: typeof fetch = (input, init) => {
    const controller = new AbortController();
    init?.signal?.addEventListener('abort', () => controller.abort(init.signal?.reason), { once: true });
    connections.push({
      method: init?.method ?? 'GET',
      url: String(input),
      lastEventId: new Headers(init?.headers).get('last-event-id'),
      cut: () => controller.abort(new Error('connection cut by the test')),
    });
    return fetch(input, { ...init, signal: controller.signal });
  };
  return { fetch: fetchThrough, connections };
}

// Reads the answer, cutting the first connection once `afterDeltas` deltas have arrived.
async function readCutting(answer: AnswerStream, cut: () => void, afterDeltas: number): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  let seen = 0;
  for await (const frame of answer) {
    frames.push(frame);
    if (frame.event === 'assistant_delta' && ++seen === afterDeltas) cut();
  }
  return frames;
}

async function failure(promise: Promise<unknown>): Promise<ChatApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatApiError);
  return error as ChatApiError;
}

describe('the typed client against the app', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let db: pg.Client;
  const sockets: ChatsSocket[] = [];

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: { ...fakeAnthropicEnv(fake), ANON_MESSAGE_LIMIT: '2', ANON_IP_MESSAGE_LIMIT: '1000' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await db?.end();
    await t?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const stored = async (id: string) => (await db.query('SELECT status, content FROM messages WHERE id = $1', [id])).rows[0];

  const collect = async (answer: AnswerStream) => {
    const frames: StreamFrame[] = [];
    for await (const frame of answer) frames.push(frame);
    return frames;
  };

  it('sends a message and yields its typed frames', async () => {
    const answer = sendMessage(t.baseUrl, { content: 'Hello there' }, { headers: { 'x-anon-id': ANON() } });
    const frames = await collect(answer);
    expect(frames.map((f) => f.event)).toEqual(['assistant_typing', ...frames.slice(1, -2).map(() => 'assistant_delta'), 'assistant_complete', 'usage_info']);
    const complete = frames.at(-2)!;
    if (complete.event !== 'assistant_complete') throw new Error('no assistant_complete');
    expect(deltas(frames)).toBe(complete.data.content);
    expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => `${answer.messageId}:${i + 1}`));
    expect(answer).toMatchObject({ chatId: complete.data.chat_id, finished: true, reconnects: 0 });
    expect((await stored(answer.messageId!)).status).toBe('complete');
  });

  it('throws a refusal as a ChatApiError: the anonymous quota over SSE, an unknown message as JSON', async () => {
    const anon = ANON();
    for (let i = 0; i < 2; i++) await collect(sendMessage(t.baseUrl, { content: `message ${i}` }, { headers: { 'x-anon-id': anon } }));
    const refused = await failure(collect(sendMessage(t.baseUrl, { content: 'one too many' }, { headers: { 'x-anon-id': anon } })));
    expect(refused).toMatchObject({ code: 'ANON_LIMIT_REACHED', status: 429, retryable: false });
    expect(refused.details.resets_at).toEqual(expect.any(String));
    expect(fake.requests).toHaveLength(2); // the refusal never reached the model

    const unknown = await failure(stop(t.baseUrl, crypto.randomUUID(), { headers: { 'x-anon-id': anon } }));
    expect(unknown).toMatchObject({ code: 'MESSAGE_NOT_FOUND', status: 404, retryable: false, requestId: expect.any(String) });
  });

  it('resumes an answer whose connection was cut, with keep_generating: the whole answer, each frame once', async () => {
    fake.enqueue({ kind: 'text', chunks: WORDS, chunkDelayMs: 40 });
    const net = cuttableFetch();
    const answer = sendMessage(t.baseUrl, { content: 'resume me' }, { headers: { 'x-anon-id': ANON() }, fetch: net.fetch, keepGenerating: true });
    const frames = await readCutting(answer, () => net.connections[0].cut(), 2);

    expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => `${answer.messageId}:${i + 1}`)); // no gap, no duplicate
    expect(frames.at(-2)?.event).toBe('assistant_complete');
    expect(frames.at(-1)?.event).toBe('usage_info');
    expect(deltas(frames)).toBe(WORDS.join(''));
    expect(answer.reconnects).toBe(1);
    expect(net.connections.map((c) => [c.method, c.lastEventId])).toEqual([
      ['POST', null],
      ['GET', `${answer.messageId}:3`], // typing and two deltas seen before the cut
    ]);
    expect(net.connections[1].url).toBe(`${t.baseUrl}/api/v1/messages/${answer.messageId}/stream`);
    // One generation upstream, which went on while no client was connected.
    expect(fake.requests).toHaveLength(1);
    expect(await stored(answer.messageId!)).toEqual({ status: 'complete', content: WORDS.join('') });
  });

  it('without keep_generating, the cut stops the answer, and the reconnection brings its end', async () => {
    fake.enqueue({ kind: 'text', chunks: WORDS, chunkDelayMs: 40 });
    const net = cuttableFetch();
    const answer = sendMessage(t.baseUrl, { content: 'stop when I go' }, { headers: { 'x-anon-id': ANON() }, fetch: net.fetch });
    const frames = await readCutting(answer, () => net.connections[0].cut(), 2);

    expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => `${answer.messageId}:${i + 1}`));
    const end = frames.at(-2)!;
    expect(end.event === 'assistant_error' && end.data.code).toBe('STOPPED');
    expect(frames.at(-1)?.event).toBe('usage_info');
    const row = await stored(answer.messageId!);
    expect(row.status).toBe('stopped');
    expect(deltas(frames)).toBe(row.content);
    expect(row.content.length).toBeLessThan(WORDS.join('').length);
    expect((await fake.waitForClose(0)).closedByClient).toBe(true);
  });

  it('resumes a finished answer by id after a given frame', async () => {
    const anon = ANON();
    const first = sendMessage(t.baseUrl, { content: 'replay me' }, { headers: { 'x-anon-id': anon } });
    const all = await collect(first);
    const rest = await collect(resume(t.baseUrl, first.messageId!, all[1].id, { headers: { 'x-anon-id': anon } }));
    expect(rest.map((f) => f.id)).toEqual(all.slice(2).map((f) => f.id));
    const foreign = await failure(collect(resume(t.baseUrl, first.messageId!, undefined, { headers: { 'x-anon-id': ANON() } })));
    expect(foreign).toMatchObject({ code: 'MESSAGE_NOT_FOUND', status: 404 });
  });

  it('connects to /chats with typed events and requests that resolve with the ack or reject with its code', async () => {
    const anon = ANON();
    const socket = connectChats(io, t.baseUrl, { anon_id: anon }, { transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    const created = new Promise<ChatView>((resolve) => socket.on('chat_created', ({ chat }) => resolve(chat)));
    const usage = new Promise((resolve) => socket.once('usage_info', resolve));
    await whenConnected(socket);
    expect(await usage).toMatchObject({ identity: 'anonymous', anon_id: anon });

    const answer = sendMessage(t.baseUrl, { content: 'Socket, meet the chat' }, { headers: { 'x-anon-id': anon } });
    await collect(answer);
    const list = await request(socket, 'list_chats', {});
    expect(list.chats.map((c) => c.id)).toEqual([answer.chatId]);
    expect((await created).id).toBe(answer.chatId); // pushed to the owner's sockets
    const history = await request(socket, 'list_messages', { chat_id: answer.chatId! });
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect((await request(socket, 'rename_chat', { chat_id: answer.chatId!, title: 'Renamed' })).chat.title).toBe('Renamed');
    expect(typeof (await request(socket, 'ping', {})).timestamp).toBe('string');

    const notFound = await failure(request(socket, 'rename_chat', { chat_id: crypto.randomUUID(), title: 'x' }));
    expect(notFound).toMatchObject({ code: 'CHAT_NOT_FOUND', status: 0 });
    expect((await failure(request(socket, 'list_messages', { chat_id: 'not-a-uuid' }))).code).toBe('VALIDATION_ERROR');

    socket.disconnect();
    const late = await failure(request(socket, 'ping', {}, { timeoutMs: 200 }));
    expect(late).toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('reports a refused handshake with its code, and connects a signed-in user with a token', async () => {
    const refused = connectChats(io, t.baseUrl, { anon_id: 'not-a-uuid' }, { transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(refused);
    expect((await failure(whenConnected(refused))).code).toBe('INVALID_ANON_ID');

    const { token, userId } = await registerUser(t.baseUrl);
    const socket = connectChats(io, `${t.baseUrl}/`, { token }, { transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await whenConnected(socket);
    expect(await request(socket, 'usage_info', {})).toMatchObject({ identity: 'user', user_id: userId });
  });
});

describe('the typed client refused by the rate limit', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('carries the code, the status and Retry-After', async () => {
    const headers = { 'x-anon-id': ANON() };
    for await (const _ of sendMessage(t.baseUrl, { content: 'first' }, { headers })) {
      // the one request this minute allows
    }
    const limited = await failure(
      (async () => {
        for await (const _ of sendMessage(t.baseUrl, { content: 'second' }, { headers })) {
          // refused before any frame
        }
      })(),
    );
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryable: true });
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.retryAfterMs! % 1000).toBe(0); // from the Retry-After header, in whole seconds
  });
});
