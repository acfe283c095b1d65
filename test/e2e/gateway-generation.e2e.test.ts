import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { request } from '../support/http.js';
import { closeAllSockets, connectChats } from '../support/socket.js';

// A socket that started a generation and goes away for good stops it, as an SSE client does,
// unless it asked to keep generating.
describe('send_message when the socket goes away', () => {
  let t: TestApp;
  const words = Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ');

  beforeAll(async () => {
    t = await startTestApp({ env: { ECHO_DELAY_MS: '40', SOCKET_GENERATION_GRACE_MS: '200' } });
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
  });

  async function sendThenLeave(body: Record<string, unknown>) {
    const anon = crypto.randomUUID();
    const sender = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const watcher = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const from = sender.mark();
    sender.socket.emit('send_message', { content: words, ...body });
    const typing = await sender.waitFor('assistant_typing', { from });
    await sender.waitFor('assistant_delta', { from });
    sender.close();
    const statusOf = async () => {
      const list = await watcher.ask('list_messages', { chat_id: typing.chat_id });
      return list.messages.find((m: { id: string }) => m.id === typing.message_id) as { status: string; content: string };
    };
    return { statusOf };
  }

  it('stops the generation once the grace period has passed without the socket coming back', async () => {
    const { statusOf } = await sendThenLeave({});
    await expect.poll(async () => (await statusOf()).status, { timeout: 3000, interval: 100 }).toBe('stopped');
    expect((await statusOf()).content.length).toBeLessThan(words.length);
  });

  it('keeps generating when keep_generating was asked for', async () => {
    const { statusOf } = await sendThenLeave({ keep_generating: true });
    await expect.poll(async () => (await statusOf()).status, { timeout: 8000, interval: 200 }).toBe('complete');
    expect((await statusOf()).content).toBe(words);
  });

  // The turn's transaction is held up (a test connection locks the quota table) while the
  // socket that sent it leaves: the generation it then starts has nobody to hear it, and must
  // stop after the grace like one whose socket left later, with the turn stored.
  it('stops a generation whose socket left while its turn was being written', async () => {
    const anon = crypto.randomUUID();
    const sender = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const watcher = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const sessions = async () => ((await request(t.baseUrl, 'GET', '/health')).body as { active_sessions: number }).active_sessions;
    const before = await sessions();
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE anon_usage IN EXCLUSIVE MODE');
      const from = watcher.mark();
      sender.socket.emit('send_message', { content: words });
      const waiting = async () => Number((await blocker.query(`SELECT count(*) FROM pg_locks WHERE relation = 'anon_usage'::regclass AND NOT granted`)).rows[0].count);
      await expect.poll(waiting, { timeout: 5000, interval: 20 }).toBeGreaterThan(0);
      sender.close();
      await expect.poll(sessions, { timeout: 5000, interval: 20 }).toBe(before - 1);
      await blocker.query('COMMIT');

      const created = await watcher.waitFor('chat_created', { from });
      const answerOf = async () => {
        const list = await watcher.ask('list_messages', { chat_id: created.chat.id });
        return list.messages as { role: string; status: string; content: string }[];
      };
      await expect.poll(async () => (await answerOf()).find((m) => m.role === 'assistant')?.status, { timeout: 3000, interval: 100 }).toBe('stopped');
      const messages = await answerOf();
      expect(messages.find((m) => m.role === 'user')).toMatchObject({ status: 'complete', content: words });
      expect(messages.find((m) => m.role === 'assistant')!.content.length).toBeLessThan(words.length);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });
});
