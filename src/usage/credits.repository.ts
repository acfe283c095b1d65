import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
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

const LEDGER_COLUMNS = 'id, user_id, kind, amount, message_key, model, input_tokens, output_tokens, estimated, note, created_at';

// Queries that run the same inside and outside a transaction.
class CreditsQueries {
  constructor(protected readonly manager: EntityManager) {}

  async findAccount(userId: string): Promise<AccountBalance | null> {
    const rows: { balance: string; reserved: string }[] = await this.manager.query(
      'SELECT balance, reserved FROM credit_accounts WHERE user_id = $1',
      [userId],
    );
    return rows[0] ? toBalance(rows[0]) : null;
  }

  async findEntriesByKey(messageKey: string): Promise<LedgerEntry[]> {
    const rows: LedgerRow[] = await this.manager.query(
      `SELECT ${LEDGER_COLUMNS} FROM credit_ledger WHERE message_key = $1 ORDER BY created_at, id`,
      [messageKey],
    );
    return rows.map(toEntry);
  }
}

// A unit of work on credits; every method runs in the caller's transaction.
export class CreditsTransaction extends CreditsQueries {
  // Creates the user's account with nothing in it, unless it exists.
  async ensureAccount(userId: string): Promise<void> {
    await this.manager.query('INSERT INTO credit_accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING', [userId]);
  }

  // Takes `amount` from the spendable balance into the held part, only if it fits: the
  // condition is evaluated on the locked, current row, so concurrent holds cannot overdraw.
  async holdIfAvailable(userId: string, amount: number): Promise<AccountBalance | null> {
    const rows: { balance: string; reserved: string }[] = await this.manager.query(
      `WITH held AS (
         UPDATE credit_accounts SET balance = balance - $2, reserved = reserved + $2, updated_at = now()
         WHERE user_id = $1 AND balance >= $2
         RETURNING balance, reserved)
       SELECT balance, reserved FROM held`,
      [userId, amount],
    );
    return rows[0] ? toBalance(rows[0]) : null;
  }

  async lockAccount(userId: string): Promise<AccountBalance | null> {
    const rows: { balance: string; reserved: string }[] = await this.manager.query(
      'SELECT balance, reserved FROM credit_accounts WHERE user_id = $1 FOR UPDATE',
      [userId],
    );
    return rows[0] ? toBalance(rows[0]) : null;
  }

  // Moves the running totals of an existing account; the CHECK constraints refuse a negative
  // balance or hold.
  async adjustAccount(userId: string, balanceDelta: number, reservedDelta: number): Promise<AccountBalance> {
    const rows: { balance: string; reserved: string }[] = await this.manager.query(
      `WITH moved AS (
         UPDATE credit_accounts SET balance = balance + $2, reserved = reserved + $3, updated_at = now()
         WHERE user_id = $1
         RETURNING balance, reserved)
       SELECT balance, reserved FROM moved`,
      [userId, balanceDelta, reservedDelta],
    );
    if (!rows[0]) throw new Error(`credit account ${userId} does not exist`);
    return toBalance(rows[0]);
  }

  // Locks a generation's reserve row, so that two settles of one key take turns.
  async lockReservation(messageKey: string): Promise<LedgerEntry | null> {
    const rows: LedgerRow[] = await this.manager.query(
      `SELECT ${LEDGER_COLUMNS} FROM credit_ledger WHERE message_key = $1 AND kind = 'reserve' FOR UPDATE`,
      [messageKey],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  // Appends a row; null when a row of this kind already exists for this message key (a
  // concurrent insert of the same key waits for the other transaction, then finds it).
  async insertEntry(entry: NewLedgerEntry): Promise<LedgerEntry | null> {
    const rows: LedgerRow[] = await this.manager.query(
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
}

@Injectable()
export class CreditsRepository extends CreditsQueries {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super(dataSource.manager);
  }

  transaction<T>(work: (tx: CreditsTransaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(new CreditsTransaction(manager)));
  }

  // The balance as the ledger tells it; always equal to credit_accounts.balance.
  async ledgerBalance(userId: string): Promise<number> {
    const rows: { sum: string }[] = await this.manager.query(
      'SELECT coalesce(sum(amount), 0) AS sum FROM credit_ledger WHERE user_id = $1',
      [userId],
    );
    return Number(rows[0].sum);
  }

  // What the ledger says is still held: reservations without a release or refund.
  async ledgerReserved(userId: string): Promise<number> {
    const rows: { sum: string }[] = await this.manager.query(
      `SELECT coalesce(-sum(r.amount), 0) AS sum FROM credit_ledger r
       WHERE r.user_id = $1 AND r.kind = 'reserve' AND NOT EXISTS (
         SELECT 1 FROM credit_ledger c WHERE c.message_key = r.message_key AND c.kind IN ('release', 'refund'))`,
      [userId],
    );
    return Number(rows[0].sum);
  }

  // Newest first.
  async listEntries(userId: string, limit: number): Promise<{ entries: LedgerEntry[]; total: number }> {
    const rows: LedgerRow[] = await this.manager.query(
      `SELECT ${LEDGER_COLUMNS} FROM credit_ledger WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [userId, limit],
    );
    const count: { total: number }[] = await this.manager.query(
      'SELECT count(*)::int AS total FROM credit_ledger WHERE user_id = $1',
      [userId],
    );
    return { entries: rows.map(toEntry), total: count[0].total };
  }

  // Generations charged within the last `windowMs`.
  async countChargesSince(userId: string, windowMs: number): Promise<number> {
    const rows: { used: number }[] = await this.manager.query(
      `SELECT count(*)::int AS used FROM credit_ledger
       WHERE user_id = $1 AND kind = 'charge' AND created_at > now() - $2 * interval '1 millisecond'`,
      [userId, windowMs],
    );
    return rows[0].used;
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
