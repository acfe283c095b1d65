import { AbstractChat, APICallError, DefaultChatTransport, readUIMessageStream, type ChatState, type ChatStatus, type UIMessage, type UIMessageChunk } from 'ai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { registerUser } from '../support/http.js';
import { redisEnv } from '../support/redis.js';
import { FAKE_ANTHROPIC_REPLY, FAKE_LONG_CHUNKS, fakeAnthropicEnv, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';

// POST /api/v1/chat driven by the AI SDK's own client code: AbstractChat (what useChat wraps),
// DefaultChatTransport and readUIMessageStream, against the real app and a fake Anthropic.

const ANON_LIMIT = 3;

// The smallest ChatState: what @ai-sdk/react's useChat keeps in React state.
class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: UIMessage[] = []) {}
  pushMessage = (message: UIMessage) => void (this.messages = [...this.messages, message]);
  popMessage = () => void (this.messages = this.messages.slice(0, -1));
  replaceMessage = (index: number, message: UIMessage) => void (this.messages = this.messages.map((m, i) => (i === index ? message : m)));
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

class TestChat extends AbstractChat<UIMessage> {
  constructor(init: { id: string; transport: DefaultChatTransport<UIMessage>; messages?: UIMessage[] }) {
    super({ id: init.id, transport: init.transport, state: new MemoryChatState(init.messages) });
  }
}

const textOf = (message: UIMessage | undefined) => message?.parts.map((p) => (p.type === 'text' ? p.text : '')).join('') ?? '';

// Every state of the message as readUIMessageStream builds it, and the errors it reported.
async function readMessage(stream: ReadableStream<UIMessageChunk>): Promise<{ message: UIMessage | undefined; errors: Error[] }> {
  const errors: Error[] = [];
  let message: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream, onError: (e) => errors.push(e as Error) })) message = m;
  return { message, errors };
}

describe('POST /api/v1/chat (the AI SDK UI message stream)', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: pg.Client;
  const transportFor = (anonId: string, options: { body?: object } = {}) =>
    new DefaultChatTransport<UIMessage>({ api: `${t.baseUrl}/api/v1/chat`, headers: { 'x-anon-id': anonId }, ...options });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: { ...fakeAnthropicEnv(fake), ANON_MESSAGE_LIMIT: String(ANON_LIMIT) } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await t?.close();
    await fake?.close();
  });

  it('two turns in one client chat id are one stored chat of four messages, and the model gets the stored history', async () => {
    const anonId = crypto.randomUUID();
    const chatId = 'kitchen-chat-1';
    const chat = new TestChat({ id: chatId, transport: transportFor(anonId) });

    await chat.sendMessage({ text: 'What goes into a good soup?' });
    expect(chat.error).toBeUndefined();
    expect(chat.status).toBe('ready');
    const [, answer] = chat.messages;
    expect(answer.role).toBe('assistant');
    expect(textOf(answer)).toBe(FAKE_ANTHROPIC_REPLY);
    const firstUpstream = fake.requests.length;

    // The client's copy of the first answer is not what the model gets: the stored one is.
    chat.messages = chat.messages.map((m) => (m.role === 'assistant' ? { ...m, parts: [{ type: 'text', text: 'edited on the client' }] } : m));
    await chat.sendMessage({ text: 'And how long does it simmer?' });
    expect(chat.error).toBeUndefined();
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);

    const upstream = fake.requests[firstUpstream].body as { messages: { role: string; content: unknown }[] };
    expect(upstream.messages.map((m) => [m.role, contentText(m.content)])).toEqual([
      ['user', 'What goes into a good soup?'],
      ['assistant', FAKE_ANTHROPIC_REPLY],
      ['user', 'And how long does it simmer?'],
    ]);

    const { rows: chats } = await db.query(
      `SELECT c.id FROM client_chats cc JOIN chats c ON c.id = cc.chat_id WHERE cc.client_chat_id = $1 AND c.anon_id = $2`,
      [chatId, anonId],
    );
    expect(chats).toHaveLength(1);
    const { rows: stored } = await db.query(`SELECT id, role, status, content FROM messages WHERE chat_id = $1 ORDER BY created_at`, [chats[0].id]);
    expect(stored.map((m) => [m.role, m.status, m.content])).toEqual([
      ['user', 'complete', 'What goes into a good soup?'],
      ['assistant', 'complete', FAKE_ANTHROPIC_REPLY],
      ['user', 'complete', 'And how long does it simmer?'],
      ['assistant', 'complete', FAKE_ANTHROPIC_REPLY],
    ]);
    // The start chunk's messageId is the stored assistant message's id (for .../stop).
    expect([chat.messages[1].id, chat.messages[3].id]).toEqual([stored[1].id, stored[3].id]);
    // The stream's metadata: the chat, the usage.
    expect(chat.messages[3].metadata).toMatchObject({ chat_id: chats[0].id, stop_reason: 'end_turn', usage_info: { identity: 'anonymous', messages_used: 2 } });
  });

  it('a visitor who signs up keeps their client chat ids: the next turn continues the same chat', async () => {
    const anonId = crypto.randomUUID();
    await new TestChat({ id: 'carry-over', transport: transportFor(anonId) }).sendMessage({ text: 'Before signing up' });
    const { token } = await registerUser(t.baseUrl, { 'x-anon-id': anonId });
    const signedIn = new DefaultChatTransport<UIMessage>({ api: `${t.baseUrl}/api/v1/chat`, headers: { authorization: `Bearer ${token}` } });
    const chat = new TestChat({ id: 'carry-over', transport: signedIn });
    await chat.sendMessage({ text: 'After signing up' });
    expect(chat.error).toBeUndefined();
    const upstream = fake.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    expect(upstream.messages.map((m) => contentText(m.content))).toEqual(['Before signing up', FAKE_ANTHROPIC_REPLY, 'After signing up']);
  });

  it('regenerate-message answers the last user message again, the replaced answer kept as superseded', async () => {
    const anonId = crypto.randomUUID();
    const chat = new TestChat({ id: 'regen-chat', transport: transportFor(anonId) });
    await chat.sendMessage({ text: 'Name a colour.' });
    const first = chat.messages[1].id;
    await chat.regenerate();
    expect(chat.error).toBeUndefined();
    expect(chat.messages).toHaveLength(2);
    expect(chat.messages[1].id).not.toBe(first);
    const { rows } = await db.query(`SELECT id, status, replaces_id FROM messages WHERE role = 'assistant' AND owner_key = $1 ORDER BY created_at`, [`a:${anonId}`]);
    expect(rows).toEqual([
      { id: first, status: 'superseded', replaces_id: null },
      { id: chat.messages[1].id, status: 'complete', replaces_id: first },
    ]);
  });

  it('an answer left with keep_generating is resumed whole through reconnectToStream; a second reconnect gets nothing', async () => {
    const anonId = crypto.randomUUID();
    const chatId = 'long-story';
    const transport = transportFor(anonId, { body: { keep_generating: true } });
    const leave = new AbortController();
    const stream = await transport.sendMessages({
      chatId,
      messages: [{ id: 'u-1', role: 'user', parts: [{ type: 'text', text: `Tell me a long story ${fakeMarker('long')}` }] }],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: leave.signal,
    });
    // Read until a few words have come, then leave as a closed tab does.
    const reader = stream.getReader();
    let messageId: string | undefined;
    for (let deltas = 0; deltas < 3; ) {
      const { value } = await reader.read();
      if (value?.type === 'start') messageId = value.messageId;
      if (value?.type === 'text-delta') deltas += 1;
    }
    leave.abort();
    await reader.cancel().catch(() => undefined);

    const resumed = await transport.reconnectToStream({ chatId });
    expect(resumed).not.toBeNull();
    const { message, errors } = await readMessage(resumed!);
    expect(errors).toEqual([]);
    expect(message?.id).toBe(messageId);
    expect(textOf(message)).toBe(FAKE_LONG_CHUNKS.join(''));
    const upstream = fake.requests.findLast((r) => JSON.stringify(r.body).includes('Tell me a long story'));
    expect(upstream?.closedByClient).toBe(false);

    expect(await transport.reconnectToStream({ chatId })).toBeNull();
    // useChat's resume: true on a page load, for a chat with nothing running.
    const reloaded = new TestChat({ id: chatId, transport, messages: [] });
    await reloaded.resumeStream();
    expect(reloaded.status).toBe('ready');
    expect(reloaded.messages).toEqual([]);
  });

  it('a client that goes away without keep_generating stops the answer', async () => {
    const anonId = crypto.randomUUID();
    const chat = new TestChat({ id: 'short-attention', transport: transportFor(anonId) });
    const sending = chat.sendMessage({ text: `A long one please ${fakeMarker('long')}` });
    await expect.poll(() => textOf(chat.messages[1]).length, { timeout: 5000 }).toBeGreaterThan(0);
    const upstreamIndex = fake.requests.length - 1;
    await chat.stop();
    await sending;
    expect((await fake.waitForClose(upstreamIndex)).closedByClient).toBe(true);
    await expect
      .poll(async () => (await db.query(`SELECT status FROM messages WHERE id = $1`, [chat.messages[1].id])).rows[0]?.status, { timeout: 5000 })
      .toBe('stopped');
    expect(await transportFor(anonId).reconnectToStream({ chatId: 'short-attention' })).toBeNull();
  });

  it('a failure mid-stream is an error chunk whose text starts with the code', async () => {
    const anonId = crypto.randomUUID();
    const stream = await transportFor(anonId).sendMessages({
      chatId: 'flaky',
      messages: [{ id: 'u-1', role: 'user', parts: [{ type: 'text', text: `Hello ${fakeMarker('overloaded')}` }] }],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    });
    const { message, errors } = await readMessage(stream);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^PROVIDER_OVERLOADED: /)]);
    expect(textOf(message).length).toBeGreaterThan(0);
  });

  it('the anonymous quota refuses with an error whose message starts with ANON_LIMIT_REACHED', async () => {
    const anonId = crypto.randomUUID();
    const chat = new TestChat({ id: 'quota', transport: transportFor(anonId) });
    for (let i = 0; i < ANON_LIMIT; i += 1) {
      await chat.sendMessage({ text: `message ${i}` });
      expect(chat.error).toBeUndefined();
    }
    await chat.sendMessage({ text: 'one too many' });
    expect(chat.status).toBe('error');
    expect(chat.error?.message).toMatch(/^ANON_LIMIT_REACHED: /);
    expect(chat.error).toBeInstanceOf(APICallError);
    expect((chat.error as APICallError).statusCode).toBe(429);
  });

  it('speaks protocol v1 on the wire: its header, the chunk order, data: [DONE] last', async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-anon-id': crypto.randomUUID() },
      body: JSON.stringify({ id: 'wire', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'hi' }] }], trigger: 'submit-message' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = (await res.text()).split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice('data: '.length));
    expect(frames.at(-1)).toBe('[DONE]');
    const types = frames.slice(0, -1).map((f) => (JSON.parse(f) as { type: string }).type);
    expect(types.filter((type, i) => type !== 'text-delta' || types[i - 1] !== 'text-delta')).toEqual(['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'finish-step', 'finish']);
  });

  it('refuses a request that is not the SDK’s with VALIDATION_ERROR as text', async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'x', messages: [] }) });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^VALIDATION_ERROR: /);
  });
});

describe('POST /api/v1/chat on two instances sharing PostgreSQL and Redis', () => {
  let fake: FakeAnthropic;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    database = await createTestDatabase();
    const env = { ...fakeAnthropicEnv(fake), ...redisEnv() };
    a = await startTestApp({ env, database });
    b = await startTestApp({ env, database });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
    await fake?.close();
  });

  it('an answer started on one instance with keep_generating is resumed whole on the other; the same chat id continues there', async () => {
    const anonId = crypto.randomUUID();
    const on = (t: TestApp) => new DefaultChatTransport<UIMessage>({ api: `${t.baseUrl}/api/v1/chat`, headers: { 'x-anon-id': anonId }, body: { keep_generating: true } });
    const leave = new AbortController();
    const stream = await on(a).sendMessages({
      chatId: 'travelling',
      messages: [{ id: 'u-1', role: 'user', parts: [{ type: 'text', text: `Go on for a while ${fakeMarker('long')}` }] }],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: leave.signal,
    });
    const reader = stream.getReader();
    while ((await reader.read()).value?.type !== 'text-delta');
    leave.abort();
    await reader.cancel().catch(() => undefined);

    const { message, errors } = await readMessage((await on(b).reconnectToStream({ chatId: 'travelling' }))!);
    expect(errors).toEqual([]);
    expect(textOf(message)).toBe(FAKE_LONG_CHUNKS.join(''));
    expect(await on(a).reconnectToStream({ chatId: 'travelling' })).toBeNull();

    const chat = new TestChat({ id: 'travelling', transport: on(b), messages: [{ id: 'u-1', role: 'user', parts: [{ type: 'text', text: 'Go on for a while' }] }, message!] });
    await chat.sendMessage({ text: 'Thanks' });
    expect(chat.error).toBeUndefined();
    const upstream = fake.requests.at(-1)!.body as { messages: { content: unknown }[] };
    expect(upstream.messages.map((m) => contentText(m.content))).toEqual([`Go on for a while ${fakeMarker('long')}`, FAKE_LONG_CHUNKS.join(''), 'Thanks']);
  });
});

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  return (content as { type: string; text?: string }[]).map((b) => b.text ?? '').join('');
}
