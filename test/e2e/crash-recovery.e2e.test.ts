import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageService } from '../../src/usage/usage.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { registerUser } from '../support/http.js';

// A process that dies mid-generation leaves its assistant message "streaming" and its credits
// held. The next start closes the message as an error with the text it had, and settles the hold.
describe('recovery from a generation left by a dead process', () => {
  const apps: TestApp[] = [];
  let database: TestDatabase;
  afterAll(async () => {
    for (const app of apps) await app.close();
    await database.drop();
  });

  it('closes the message as error and releases the held credits on the next start', async () => {
    database = await createTestDatabase();
    const first = await startTestApp({ database, env: { MODEL_PRICES: 'echo=1000/1000' } });
    apps.push(first);
    const { userId } = await registerUser(first.baseUrl);

    // What a generation in flight looks like in the database: a chat, the user message, the
    // assistant message streaming with partial text, and a credit hold under its id.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const chat = (await db.query(`INSERT INTO chats (user_id, title) VALUES ($1, 'crash') RETURNING id`, [userId])).rows[0].id as string;
    const user = (await db.query(`INSERT INTO messages (chat_id, role, status, content) VALUES ($1, 'user', 'complete', 'hi') RETURNING id`, [chat])).rows[0].id as string;
    const assistant = (await db.query(
      `INSERT INTO messages (chat_id, role, status, content, model, reply_to_id) VALUES ($1, 'assistant', 'streaming', 'partial answer', 'echo', $2) RETURNING id`,
      [chat, user],
    )).rows[0].id as string;
    const model = first.config.models.find((m) => m.id === 'echo')!;
    await first.app.get(UsageService).reserve({ identity: { kind: 'user', userId }, ip: undefined, model, inputTokens: 10, maxTokens: 100, messageKey: assistant });
    const held = (await db.query('SELECT balance, reserved FROM credit_accounts WHERE user_id = $1', [userId])).rows[0];
    expect(Number(held.reserved)).toBe(110);

    // The next process (no Redis: it is the only instance) starts.
    apps.push(await startTestApp({ database, env: { MODEL_PRICES: 'echo=1000/1000' } }));

    const message = (await db.query('SELECT status, content, error_code FROM messages WHERE id = $1', [assistant])).rows[0];
    expect(message).toEqual({ status: 'error', content: 'partial answer', error_code: 'INTERNAL_ERROR' });
    const account = (await db.query('SELECT balance, reserved FROM credit_accounts WHERE user_id = $1', [userId])).rows[0];
    expect(Number(account.reserved)).toBe(0);
    const charge = (await db.query(`SELECT amount, estimated FROM credit_ledger WHERE message_key = $1 AND kind = 'charge'`, [assistant])).rows[0];
    expect(charge.estimated).toBe(true);
    expect(-Number(charge.amount)).toBeGreaterThan(0);
    expect(-Number(charge.amount)).toBeLessThan(110);
    const sum = (await db.query('SELECT sum(amount)::bigint AS sum FROM credit_ledger WHERE user_id = $1', [userId])).rows[0].sum;
    expect(Number(sum)).toBe(Number(account.balance));
    await db.end();
  });

  it("settles a visitor's hold even when the chat has moved to an account since", async () => {
    const db2 = await createTestDatabase();
    try {
      const first = await startTestApp({ database: db2 });
      apps.push(first);
      const { userId } = await registerUser(first.baseUrl);
      const anonId = crypto.randomUUID();
      const db = new pg.Client({ connectionString: db2.url });
      await db.connect();
      // The visitor's message was generating when its process died; the chat then moved to the
      // account (sign-up), so the chat's owner is no longer who holds the count.
      const chat = (await db.query(`INSERT INTO chats (user_id, title) VALUES ($1, 'moved') RETURNING id`, [userId])).rows[0].id as string;
      const user = (await db.query(`INSERT INTO messages (chat_id, role, status, content) VALUES ($1, 'user', 'complete', 'hi') RETURNING id`, [chat])).rows[0].id as string;
      const assistant = (await db.query(
        `INSERT INTO messages (chat_id, role, status, content, model, reply_to_id) VALUES ($1, 'assistant', 'streaming', '', 'echo', $2) RETURNING id`,
        [chat, user],
      )).rows[0].id as string;
      await db.query('INSERT INTO anon_usage (anon_id, message_key) VALUES ($1, $2)', [anonId, assistant]);

      apps.push(await startTestApp({ database: db2 }));

      expect((await db.query('SELECT status FROM messages WHERE id = $1', [assistant])).rows[0].status).toBe('error');
      // Nothing was produced: the visitor's message no longer counts.
      expect((await db.query('SELECT refunded_at FROM anon_usage WHERE message_key = $1', [assistant])).rows[0].refunded_at).not.toBeNull();
      await db.end();
    } finally {
      for (const app of apps.splice(0)) await app.close();
      await db2.drop();
    }
  });
});
