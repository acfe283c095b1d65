import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { request, uniqueEmail } from '../support/http.js';
import { closeAllSockets, connectChats } from '../support/socket.js';
import { postSse, readSse } from '../support/sse.js';

// Signing up or logging in with x-anon-id moves the visitor's history to the account.
describe('anonymous history moves to the account', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
  });

  const sendAs = async (anon: string, content: string) => (await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content }, { 'x-anon-id': anon })).all())[0].data.chat_id as string;

  it('on sign-up: chats keep their order, the visitor tabs lose them and the account tabs gain them', async () => {
    const anon = crypto.randomUUID();
    const older = await sendAs(anon, 'older chat');
    const newer = await sendAs(anon, 'newer chat');
    const visitorTab = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const from = visitorTab.mark();

    const email = uniqueEmail();
    const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password: 'long enough pw' }, headers: { 'x-anon-id': anon } });
    expect(reg.status).toBe(201);
    const deleted = await Promise.all([older, newer].map((id) => visitorTab.waitFor('chat_deleted', { from, where: (d) => d.chat_id === id })));
    expect(deleted).toHaveLength(2);

    const accountTab = await connectChats(t.baseUrl, { auth: { token: reg.body.access_token } });
    const list = await accountTab.ask('list_chats', {});
    expect(list.chats.map((c: { id: string }) => c.id)).toEqual([newer, older]);
    const messages = await accountTab.ask('list_messages', { chat_id: older });
    expect(messages.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);

    // The visitor id no longer reaches them.
    const asVisitor = await visitorTab.ask('list_chats', {});
    expect(asVisitor.total).toBe(0);
  });

  it('on login: a second visitor history joins the account, and the other tabs of the account are told', async () => {
    const email = uniqueEmail();
    const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password: 'long enough pw' } });
    const accountTab = await connectChats(t.baseUrl, { auth: { token: reg.body.access_token } });
    const anon = crypto.randomUUID();
    const chatId = await sendAs(anon, 'made before logging in');
    const from = accountTab.mark();

    const login = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password: 'long enough pw' }, headers: { 'x-anon-id': anon } });
    expect(login.status).toBe(200);
    const created = await accountTab.waitFor('chat_created', { from });
    expect(created.chat).toMatchObject({ id: chatId, title: 'made before logging in' });
  });

  it("on login: a visitor's idempotency key that the account already used replays nothing of the moved chat", async () => {
    const email = uniqueEmail();
    const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password: 'long enough pw' } });
    const account = { authorization: `Bearer ${reg.body.access_token}` };
    const key = crypto.randomUUID();
    const frames = async (headers: Record<string, string>, content: string) => readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content, client_message_id: key }, headers)).all();
    await frames(account, 'asked by the account');
    const anon = crypto.randomUUID();
    const visitorChat = (await frames({ 'x-anon-id': anon }, 'asked by the visitor'))[0].data.chat_id as string;

    const login = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password: 'long enough pw' }, headers: { 'x-anon-id': anon } });
    expect(login.status).toBe(200);

    // The same send again from the visitor id: a new turn of the visitor's, not a replay of the
    // answer in the chat that now belongs to the account.
    const again = await frames({ 'x-anon-id': anon }, 'asked by the visitor');
    expect(again[0].event).toBe('assistant_typing');
    expect(again[0].data.chat_id).not.toBe(visitorChat);
    const visitorTab = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    expect((await visitorTab.ask('list_chats', {})).chats.map((c: { id: string }) => c.id)).toEqual([again[0].data.chat_id]);
    // The moved chat kept its messages.
    const accountTab = await connectChats(t.baseUrl, { auth: { token: login.body.access_token } });
    const moved = await accountTab.ask('list_messages', { chat_id: visitorChat });
    expect(moved.messages.map((m: { content: string; role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(moved.messages[0].content).toBe('asked by the visitor');
  });
});
