import { Injectable } from '@nestjs/common';
import type { Queryable } from '../database/sql.js';

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

export interface AnonReserveInput {
  anonId: string;
  clientAddress: string | null;
  messageKey: string;
  anonLimit: number;
  addressLimit: number;
  windowMs: number;
}

export interface AnonReserveResult {
  inserted: boolean;
  // The counts of the window before this message (address: 0 when no address is counted).
  anonUsed: number;
  addressUsed: number;
}

export interface AnonWindow {
  used: number;
  addressUsed: number;
  // When the entry that frees a slot was made (see entryThatFreesASlot); null when none counts.
  freesFrom: Date | null;
}

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

// Every method takes where it runs: the pool, or a transaction of the caller's (whose
// statements are pipelined, so a method's promise may be awaited later or together).
@Injectable()
export class AnonUsageRepository {
  // Serialises admissions per anon id and per address until the transaction ends. One
  // statement, the anon id's lock first: two transactions never wait on each other in a cycle.
  async lock(q: Queryable, anonId: string, clientAddress: string | null): Promise<void> {
    await q.query(
      `SELECT pg_advisory_xact_lock($1, hashtext($2)),
              CASE WHEN $4::text IS NULL THEN NULL ELSE pg_advisory_xact_lock($3, hashtext($4)) END`,
      [ANON_LOCK, anonId, ADDRESS_LOCK, clientAddress],
    );
  }

  // Records the message if both windows still have room (under lock(): the counts cannot be
  // read by two transactions that both then insert). A key recorded before is left alone. Each
  // count stops at its limit: an address shared by many visitors costs at most `limit` rows.
  // The counts returned are therefore at most the limits.
  async reserve(q: Queryable, input: AnonReserveInput): Promise<AnonReserveResult> {
    const [row] = await q.query<{ anon_used: number; address_used: number; inserted: boolean }>(
      `WITH used AS (
         SELECT (SELECT count(*)::int FROM (SELECT 1 FROM anon_usage
                 WHERE anon_id = $1 AND refunded_at IS NULL AND created_at > now() - $4 * interval '1 millisecond' LIMIT $5) m) AS anon_used,
                (SELECT count(*)::int FROM (SELECT 1 FROM anon_usage
                 WHERE $2::text IS NOT NULL AND client_address = $2 AND refunded_at IS NULL
                   AND created_at > now() - $4 * interval '1 millisecond' LIMIT $6) a) AS address_used
       ), recorded AS (
         INSERT INTO anon_usage (anon_id, client_address, message_key)
         SELECT $1, $2, $3 FROM used WHERE anon_used < $5 AND address_used < $6
         ON CONFLICT (message_key) DO NOTHING
         RETURNING 1
       )
       SELECT anon_used, address_used, EXISTS (SELECT 1 FROM recorded) AS inserted FROM used`,
      [input.anonId, input.clientAddress, input.messageKey, input.windowMs, input.anonLimit, input.clientAddress ? input.addressLimit : 2 ** 31 - 1],
    );
    return { inserted: row.inserted, anonUsed: row.anon_used, addressUsed: row.address_used };
  }

  async findByKey(q: Queryable, messageKey: string): Promise<AnonUsageRecord | null> {
    const rows = await q.query<AnonUsageRow>(`SELECT ${COLUMNS} FROM anon_usage WHERE message_key = $1`, [messageKey]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  // The window of an anon id (and of an address, when given, counted up to addressLimit) in one
  // statement, with the creation time of the entry whose expiry frees a slot (offset:
  // entryThatFreesASlot).
  async window(q: Queryable, anonId: string, clientAddress: string | null, windowMs: number, limit: number, addressLimit: number): Promise<AnonWindow> {
    const [row] = await q.query<{ used: number; address_used: number; frees_from: Date | null }>(
      `WITH mine AS (
         SELECT created_at FROM anon_usage
         WHERE anon_id = $1 AND refunded_at IS NULL AND created_at > now() - $3 * interval '1 millisecond'
       ), counted AS (SELECT count(*)::int AS used FROM mine)
       SELECT counted.used,
              (SELECT count(*)::int FROM (SELECT 1 FROM anon_usage
               WHERE $2::text IS NOT NULL AND client_address = $2 AND refunded_at IS NULL
                 AND created_at > now() - $3 * interval '1 millisecond' LIMIT $5) a) AS address_used,
              (SELECT created_at FROM mine ORDER BY created_at OFFSET GREATEST(0, counted.used - $4) LIMIT 1) AS frees_from
       FROM counted`,
      [anonId, clientAddress, windowMs, limit, addressLimit],
    );
    return { used: row.used, addressUsed: row.address_used, freesFrom: row.frees_from };
  }

  // When the index-th oldest counted message of the window was made (0 = the oldest).
  async createdAtInWindow(q: Queryable, scope: AnonScope, windowMs: number, index: number): Promise<Date | null> {
    const [column, value] = scopeColumn(scope);
    const rows = await q.query<{ created_at: Date }>(
      `SELECT created_at FROM anon_usage
       WHERE ${column} = $1 AND refunded_at IS NULL AND created_at > now() - $2 * interval '1 millisecond'
       ORDER BY created_at OFFSET $3 LIMIT 1`,
      [value, windowMs, index],
    );
    return rows[0]?.created_at ?? null;
  }

  // Both only touch a message that is neither settled nor refunded: the first settle wins.
  async markSettled(q: Queryable, messageKey: string): Promise<boolean> {
    return this.close(q, messageKey, 'settled_at');
  }

  async markRefunded(q: Queryable, messageKey: string): Promise<boolean> {
    return this.close(q, messageKey, 'refunded_at');
  }

  private async close(q: Queryable, messageKey: string, column: 'settled_at' | 'refunded_at'): Promise<boolean> {
    const rows = await q.query<{ message_key: string }>(
      `UPDATE anon_usage SET ${column} = now()
       WHERE message_key = $1 AND settled_at IS NULL AND refunded_at IS NULL
       RETURNING message_key`,
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
