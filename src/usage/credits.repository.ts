import { Injectable } from '@nestjs/common';
import type { Queryable } from '../database/sql.js';
import type { LedgerKind } from './credit-ledger.entity.js';

export interface AccountBalance {
  balance: number;
  reserved: number;
}

export interface LedgerEntry {
  id: string;
  userId: string;
  kind: LedgerKind;
  amount: number;
  messageKey: string | null;
  model: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  estimated: boolean;
  note: string | null;
  createdAt: Date;
}

export interface NewLedgerEntry {
  userId: string;
  kind: LedgerKind;
  amount: number;
  messageKey?: string | null;
  model?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  estimated?: boolean;
  note?: string | null;
}

export interface HoldInput {
  userId: string;
  messageKey: string;
  amount: number;
  model: string;
  inputTokens: number;
  maxTokens: number;
}

export interface HoldResult {
  // A reserve row was written by this call (false: the key was reserved before).
  recorded: boolean;
  // The credits were taken from the balance (recorded and the balance covered them).
  held: boolean;
  // The spendable balance before this call; null when the user has no account.
  balance: number | null;
}

export interface SettleInput {
  // null: whoever holds it (the sweeper settles by key: the chat may have changed owner since).
  userId: string | null;
  messageKey: string;
  refund: boolean;
  // Credits due for what was used; null: unknown, the whole hold is charged.
  wanted: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  estimated: boolean;
}

export interface SettleResult {
  // Whether this call settled the hold (false: there was none, or it was settled before).
  settled: boolean;
  holdFound: boolean;
  wanted: number;
  charged: number;
}

interface LedgerRow {
  id: string;
  user_id: string;
  kind: LedgerKind;
  amount: string;
  message_key: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  estimated: boolean;
  note: string | null;
  created_at: Date;
}

// The two-key advisory lock space of user admissions (anon-usage.repository.ts has the others).
const USER_LOCK = 7_241_103;

const LEDGER_COLUMNS = 'id, user_id, kind, amount, message_key, model, input_tokens, output_tokens, estimated, note, created_at';

// Credit accounts and their ledger. Every method takes where it runs: the pool, or a
// transaction of the caller's (pipelined: a method's promise may be awaited later).
@Injectable()
export class CreditsRepository {
  async findAccount(q: Queryable, userId: string): Promise<AccountBalance | null> {
    const rows = await q.query<{ balance: string; reserved: string }>('SELECT balance, reserved FROM credit_accounts WHERE user_id = $1', [userId]);
    return rows[0] ? toBalance(rows[0]) : null;
  }

  // The account and the generations charged within the last `windowMs`, in one statement.
  async findAccountWithCharges(q: Queryable, userId: string, windowMs: number): Promise<{ account: AccountBalance | null; charged: number }> {
    const [row] = await q.query<{ balance: string | null; reserved: string | null; charged: number }>(
      `SELECT a.balance, a.reserved,
              (SELECT count(*)::int FROM credit_ledger
               WHERE user_id = $1 AND kind = 'charge' AND created_at > now() - $2 * interval '1 millisecond') AS charged
       FROM (SELECT $1::uuid AS user_id) me LEFT JOIN credit_accounts a USING (user_id)`,
      [userId, windowMs],
    );
    return { account: row.balance === null ? null : toBalance({ balance: row.balance, reserved: row.reserved ?? '0' }), charged: row.charged };
  }

  async findEntriesByKey(q: Queryable, messageKey: string): Promise<LedgerEntry[]> {
    const rows = await q.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM credit_ledger WHERE message_key = $1 ORDER BY created_at, id`, [messageKey]);
    return rows.map(toEntry);
  }

  // Serialises this user's admissions until the transaction ends (as lock() does for visitors).
  async lockUser(q: Queryable, userId: string): Promise<void> {
    await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [USER_LOCK, userId]);
  }

  // Creates the user's account with nothing in it, unless it exists.
  async ensureAccount(q: Queryable, userId: string): Promise<void> {
    await q.query('INSERT INTO credit_accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING', [userId]);
  }

  // The reserve row first, then the hold, in one statement: a second hold of the same key waits
  // for the first one's row (unique per key and kind), finds it and holds nothing. The hold's
  // condition is evaluated on the locked, current account row, so concurrent holds cannot
  // overdraw. A refused hold leaves its reserve row: the caller rolls back.
  async hold(q: Queryable, input: HoldInput): Promise<HoldResult> {
    const [row] = await q.query<{ recorded: boolean; held: boolean; balance: string | null }>(
      `WITH entry AS (
         INSERT INTO credit_ledger (user_id, kind, amount, message_key, model, input_tokens, output_tokens, note)
         VALUES ($1, 'reserve', -$3::bigint, $2, $4, $5, $6, 'hold for up to max_tokens of output')
         ON CONFLICT (message_key, kind) WHERE message_key IS NOT NULL DO NOTHING
         RETURNING 1
       ), held AS (
         UPDATE credit_accounts SET balance = balance - $3, reserved = reserved + $3, updated_at = now()
         WHERE user_id = $1 AND balance >= $3 AND EXISTS (SELECT 1 FROM entry)
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM entry) AS recorded, EXISTS (SELECT 1 FROM held) AS held,
              (SELECT balance FROM credit_accounts WHERE user_id = $1) AS balance`,
      [input.userId, input.messageKey, input.amount, input.model, input.inputTokens, input.maxTokens],
    );
    return { recorded: row.recorded, held: row.held, balance: row.balance === null ? null : Number(row.balance) };
  }

  // Serialises the settles of one generation until the transaction ends; settle() must follow
  // in a later statement of the same transaction, so that it sees what an earlier one wrote.
  async lockHold(q: Queryable, messageKey: string): Promise<void> {
    await q.query(`SELECT 1 FROM credit_ledger WHERE message_key = $1 AND kind = 'reserve' FOR UPDATE`, [messageKey]);
  }

  // Ends a hold in one statement: release and charge (capped at the hold plus the free balance,
  // so the balance never goes below zero), or a refund; and moves the account of the user who
  // holds it. Nothing when the hold was settled or refunded before.
  async settle(q: Queryable, input: SettleInput): Promise<SettleResult> {
    const [row] = await q.query<{ hold_found: boolean; settled: boolean; wanted: string | null; charged: string | null }>(
      `WITH hold AS (
         SELECT -amount AS held, model, user_id FROM credit_ledger
         WHERE message_key = $1 AND kind = 'reserve' AND ($2::uuid IS NULL OR user_id = $2)
       ), open AS (
         SELECT held, model, user_id FROM hold
         WHERE NOT EXISTS (SELECT 1 FROM credit_ledger WHERE message_key = $1 AND kind IN ('release', 'refund'))
       ), account AS (
         SELECT balance FROM credit_accounts WHERE user_id = (SELECT user_id FROM hold) FOR UPDATE
       ), plan AS (
         SELECT open.held, open.model, open.user_id, coalesce($4::bigint, open.held) AS wanted,
                CASE WHEN $3 THEN 0 ELSE LEAST(GREATEST(coalesce($4::bigint, open.held), 0), open.held + GREATEST(account.balance, 0)) END AS charged
         FROM open, account
       ), entries AS (
         INSERT INTO credit_ledger (user_id, kind, amount, message_key, model, input_tokens, output_tokens, estimated, note)
         SELECT plan.user_id, e.kind, e.amount, $1, plan.model, e.input_tokens, e.output_tokens, e.estimated, e.note
         FROM plan CROSS JOIN LATERAL (VALUES
           ('refund', plan.held, NULL::int, NULL::int, false, 'generation failed: hold returned', $3),
           ('release', plan.held, NULL, NULL, false, NULL, NOT $3),
           ('charge', -plan.charged, $5::int, $6::int, $7::boolean,
            CASE WHEN plan.wanted > plan.charged THEN format('capped: %s due, %s available', plan.wanted, plan.charged) END, NOT $3)
         ) AS e(kind, amount, input_tokens, output_tokens, estimated, note, wanted_row)
         WHERE e.wanted_row
         ON CONFLICT (message_key, kind) WHERE message_key IS NOT NULL DO NOTHING
         RETURNING 1
       ), moved AS (
         UPDATE credit_accounts SET balance = balance + plan.held - plan.charged, reserved = reserved - plan.held, updated_at = now()
         FROM plan WHERE credit_accounts.user_id = plan.user_id AND EXISTS (SELECT 1 FROM entries)
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM hold) AS hold_found, EXISTS (SELECT 1 FROM moved) AS settled,
              (SELECT wanted FROM plan) AS wanted, (SELECT charged FROM plan) AS charged`,
      [input.messageKey, input.userId, input.refund, input.wanted, input.inputTokens, input.outputTokens, input.estimated],
    );
    return { holdFound: row.hold_found, settled: row.settled, wanted: Number(row.wanted ?? 0), charged: Number(row.charged ?? 0) };
  }

  // Appends a row; null when a row of this kind already exists for this message key (a
  // concurrent insert of the same key waits for the other transaction, then finds it).
  async insertEntry(q: Queryable, entry: NewLedgerEntry): Promise<LedgerEntry | null> {
    const rows = await q.query<LedgerRow>(
      `INSERT INTO credit_ledger (user_id, kind, amount, message_key, model, input_tokens, output_tokens, estimated, note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (message_key, kind) WHERE message_key IS NOT NULL DO NOTHING
       RETURNING ${LEDGER_COLUMNS}`,
      [
        entry.userId,
        entry.kind,
        entry.amount,
        entry.messageKey ?? null,
        entry.model ?? null,
        entry.inputTokens ?? null,
        entry.outputTokens ?? null,
        entry.estimated ?? false,
        entry.note ?? null,
      ],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  // Moves the running totals of an existing account; the CHECK constraints refuse a negative
  // balance or hold.
  async adjustAccount(q: Queryable, userId: string, balanceDelta: number, reservedDelta: number): Promise<AccountBalance> {
    const rows = await q.query<{ balance: string; reserved: string }>(
      `UPDATE credit_accounts SET balance = balance + $2, reserved = reserved + $3, updated_at = now()
       WHERE user_id = $1
       RETURNING balance, reserved`,
      [userId, balanceDelta, reservedDelta],
    );
    if (!rows[0]) throw new Error(`credit account ${userId} does not exist`);
    return toBalance(rows[0]);
  }

  // The balance as the ledger tells it; always equal to credit_accounts.balance.
  async ledgerBalance(q: Queryable, userId: string): Promise<number> {
    const rows = await q.query<{ sum: string }>('SELECT coalesce(sum(amount), 0) AS sum FROM credit_ledger WHERE user_id = $1', [userId]);
    return Number(rows[0].sum);
  }

  // What the ledger says is still held: reservations without a release or refund.
  async ledgerReserved(q: Queryable, userId: string): Promise<number> {
    const rows = await q.query<{ sum: string }>(
      `SELECT coalesce(-sum(r.amount), 0) AS sum FROM credit_ledger r
       WHERE r.user_id = $1 AND r.kind = 'reserve' AND NOT EXISTS (
         SELECT 1 FROM credit_ledger c WHERE c.message_key = r.message_key AND c.kind IN ('release', 'refund'))`,
      [userId],
    );
    return Number(rows[0].sum);
  }

  // Newest first.
  async listEntries(q: Queryable, userId: string, limit: number): Promise<{ entries: LedgerEntry[]; total: number }> {
    const [rows, count] = await Promise.all([
      q.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM credit_ledger WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, [userId, limit]),
      q.query<{ total: number }>('SELECT count(*)::int AS total FROM credit_ledger WHERE user_id = $1', [userId]),
    ]);
    return { entries: rows.map(toEntry), total: count[0].total };
  }
}

function toBalance(row: { balance: string; reserved: string }): AccountBalance {
  return { balance: Number(row.balance), reserved: Number(row.reserved) };
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    amount: Number(row.amount),
    messageKey: row.message_key,
    model: row.model,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    estimated: row.estimated,
    note: row.note,
    createdAt: row.created_at,
  };
}
