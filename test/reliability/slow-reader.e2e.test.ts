import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { fakeAnthropicEnv, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { registerUser, request } from '../support/http.js';
import { postSse, readSse } from '../support/sse.js';

const CHUNKS = Array.from({ length: 8000 }, (_, i) => `w${String(i % 1000).padStart(3, '0')}`);

// A client that stops reading: the stream is buffered up to SSE_MAX_BUFFER_BYTES, then the
// client is let go as one that left: the generation is stopped, stored "stopped" with the text
// produced, and billed for it; the process goes on serving.
describe('a slow reader', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let db: pg.Client;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: { ...fakeAnthropicEnv(fake), SSE_MAX_BUFFER_BYTES: '16384', DEFAULT_MAX_TOKENS: '8192' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    await fake?.close();
  });

  it('is buffered up to the bound, then stopped, stored and billed for what was produced', async () => {
    const { token, userId } = await registerUser(t.baseUrl);
    fake.enqueue({ kind: 'text', chunks: CHUNKS, chunkDelayMs: 0 });
    const body = JSON.stringify({ content: 'a long answer, please' });
    // A raw connection that sends the request and never reads a byte of the answer.
    const socket = net.connect(t.port, '127.0.0.1');
    socket.pause();
    socket.write(
      `POST /api/v1/messages/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await fake.waitForRequest(0);

    const answer = async () =>
      (await db.query(
        `SELECT m.id, m.status, m.content, m.stop_reason FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.user_id = $1 AND m.role = 'assistant'`,
        [userId],
      )).rows[0];
    await expect.poll(async () => (await answer())?.status, { timeout: 20_000, interval: 100 }).toBe('stopped');
    const stored = await answer();
    // Stopped before the upstream was done, with exactly what had been produced so far.
    const full = CHUNKS.join('');
    expect(stored.stop_reason).toBe('client_disconnected');
    expect(stored.content.length).toBeGreaterThan(0);
    expect(stored.content.length).toBeLessThan(full.length);
    expect(full.startsWith(stored.content)).toBe(true);
    // The upstream request is over (the fake may have written its whole answer into the
    // connection's buffers before the stop).
    await fake.waitForClose(0);

    // Billed for that text (an estimate: the upstream never sent its final usage), nothing left held.
    const charge = (await db.query(`SELECT amount, estimated FROM credit_ledger WHERE message_key = $1 AND kind = 'charge'`, [stored.id])).rows[0];
    expect(charge.estimated).toBe(true);
    expect(-Number(charge.amount)).toBeGreaterThan(0);
    const account = (await db.query('SELECT balance, reserved FROM credit_accounts WHERE user_id = $1', [userId])).rows[0];
    expect(Number(account.reserved)).toBe(0);
    const sum = (await db.query('SELECT sum(amount)::bigint AS sum FROM credit_ledger WHERE user_id = $1', [userId])).rows[0].sum;
    expect(Number(sum)).toBe(Number(account.balance));
    socket.destroy();

    // The process is fine: it serves the next answer in full.
    expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
    const next = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'and now?' }, { authorization: `Bearer ${token}` })).all();
    expect(next.at(-2)!.event).toBe('assistant_complete');
  });
});
