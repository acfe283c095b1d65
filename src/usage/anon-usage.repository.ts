import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface AnonUsageRecord {
  anonId: string;
  clientAddress: string | null;
  messageKey: string;
  createdAt: Date;
  settledAt: Date | null;
  refundedAt: Date | null;
}

// What a rolling window is counted over: one anonymous id, or one client address.
export type AnonScope = { anonId: string } | { clientAddress: string };

interface AnonUsageRow {
  anon_id: string;
  client_address: string | null;
  message_key: string;
  created_at: Date;
  settled_at: Date | null;
  refunded_at: Date | null;
}

const COLUMNS = 'anon_id, client_address, message_key, created_at, settled_at, refunded_at';

// Two-key advisory locks: the first key names what is locked, so an anon id and an address
// never share a lock (and neither meets the single-key migration lock).
const ANON_LOCK = 7_241_101;
const ADDRESS_LOCK = 7_241_102;

class AnonUsageQueries {
  constructor(protected readonly manager: EntityManager) {}

  async findByKey(messageKey: string): Promise<AnonUsageRecord | null> {
    const rows: AnonUsageRow[] = await this.manager.query(`SELECT ${COLUMNS} FROM anon_usage WHERE message_key = $1`, [messageKey]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  // Messages that count (not refunded) made within the last `windowMs`.
  async countInWindow(scope: AnonScope, windowMs: number): Promise<number> {
    const [column, value] = scopeColumn(scope);
    const rows: { used: number }[] = await this.manager.query(
      `SELECT count(*)::int AS used FROM anon_usage
       WHERE ${column} = $1 AND refunded_at IS NULL AND created_at > now() - $2 * interval '1 millisecond'`,
      [value, windowMs],
    );
    return rows[0].used;
  }

  // When the index-th oldest counted message of the window was made (0 = the oldest).
  async createdAtInWindow(scope: AnonScope, windowMs: number, index: number): Promise<Date | null> {
    const [column, value] = scopeColumn(scope);
    const rows: { created_at: Date }[] = await this.manager.query(
      `SELECT created_at FROM anon_usage
       WHERE ${column} = $1 AND refunded_at IS NULL AND created_at > now() - $2 * interval '1 millisecond'
       ORDER BY created_at OFFSET $3 LIMIT 1`,
      [value, windowMs, index],
    );
    return rows[0]?.created_at ?? null;
  }
}

// A unit of work on anonymous usage; every method runs in the caller's transaction.
export class AnonUsageTransaction extends AnonUsageQueries {
  // Held until the transaction ends. Callers take the anon id's lock before the address's, so
  // two transactions never wait on each other in a cycle.
  async lockAnonId(anonId: string): Promise<void> {
    await this.manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ANON_LOCK, anonId]);
  }

  async lockAddress(clientAddress: string): Promise<void> {
    await this.manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADDRESS_LOCK, clientAddress]);
  }

  // null when this message key is already recorded.
  async insert(record: { anonId: string; clientAddress: string | null; messageKey: string }): Promise<AnonUsageRecord | null> {
    const rows: AnonUsageRow[] = await this.manager.query(
      `INSERT INTO anon_usage (anon_id, client_address, message_key) VALUES ($1, $2, $3)
       ON CONFLICT (message_key) DO NOTHING RETURNING ${COLUMNS}`,
      [record.anonId, record.clientAddress, record.messageKey],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }
}

@Injectable()
export class AnonUsageRepository extends AnonUsageQueries {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super(dataSource.manager);
  }

  transaction<T>(work: (tx: AnonUsageTransaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(new AnonUsageTransaction(manager)));
  }

  // Both only touch a message that is neither settled nor refunded: the first settle wins.
  async markSettled(messageKey: string): Promise<boolean> {
    return this.close(messageKey, 'settled_at');
  }

  async markRefunded(messageKey: string): Promise<boolean> {
    return this.close(messageKey, 'refunded_at');
  }

  private async close(messageKey: string, column: 'settled_at' | 'refunded_at'): Promise<boolean> {
    const rows: { message_key: string }[] = await this.manager.query(
      `WITH closed AS (
         UPDATE anon_usage SET ${column} = now()
         WHERE message_key = $1 AND settled_at IS NULL AND refunded_at IS NULL
         RETURNING message_key)
       SELECT message_key FROM closed`,
      [messageKey],
    );
    return rows.length > 0;
  }
}

function scopeColumn(scope: AnonScope): ['anon_id' | 'client_address', string] {
  return 'anonId' in scope ? ['anon_id', scope.anonId] : ['client_address', scope.clientAddress];
}

function toRecord(row: AnonUsageRow): AnonUsageRecord {
  return {
    anonId: row.anon_id,
    clientAddress: row.client_address,
    messageKey: row.message_key,
    createdAt: row.created_at,
    settledAt: row.settled_at,
    refundedAt: row.refunded_at,
  };
}
