import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/common/identity.js';
import { AppException } from '../../src/common/errors/app.exception.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { AnonUsageRepository } from '../../src/usage/anon-usage.repository.js';
import { CreditsRepository } from '../../src/usage/credits.repository.js';
import type { Reservation } from '../../src/usage/reservation.js';
import { Sql } from '../../src/database/sql.js';
import { UsageService } from '../../src/usage/usage.service.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const MODEL = { id: 'echo', inputPrice: 1, outputPrice: 1 };
const DAY = 24 * 60 * 60 * 1000;

let addressCounter = 0;
// A fresh TEST-NET address per test, so the tests' address counts do not meet.
const freshAddress = () => `198.51.100.${++addressCounter}`;

describe(UsageService.name + ' (anonymous quota)', () => {
  let db: TestDatabase;
  const dataSources: DataSource[] = [];
  let a: UsageService;
  let b: UsageService;
  let sql: DataSource;

  // Two instances (own pools) on one database, with the given limits.
  async function services(anonLimit: number, addressLimit: number): Promise<[UsageService, UsageService]> {
    const config = loadConfig({ ANON_MESSAGE_LIMIT: String(anonLimit), ANON_IP_MESSAGE_LIMIT: String(addressLimit), LOG_LEVEL: 'silent' });
    const made: UsageService[] = [];
    for (let i = 0; i < 2; i++) {
      const ds = new DataSource(dataSourceOptions(db.url));
      await ds.initialize();
      dataSources.push(ds);
      made.push(new UsageService(config, Sql.of(ds), new CreditsRepository(), new AnonUsageRepository(), createLogger('silent')));
    }
    return [made[0], made[1]];
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await services(10, 1000);
    sql = dataSources[0];
  });
  afterAll(async () => {
    await Promise.all(dataSources.map((ds) => ds.destroy()));
    await db?.drop();
  });

  const anon = (): Identity & { kind: 'anonymous' } => ({ kind: 'anonymous', anonId: randomUUID() });
  const reserve = (sut: UsageService, identity: Identity, ip: string | undefined, messageKey: string = randomUUID()) =>
    sut.reserve({ identity, ip, model: MODEL, inputTokens: 10, maxTokens: 100, messageKey });

  function split(results: PromiseSettledResult<Reservation>[]) {
    const held = results.filter((r): r is PromiseFulfilledResult<Reservation> => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    return { held, refused };
  }

  it('lets exactly 3 of 50 concurrent messages through when 3 are left', async () => {
    const visitor = anon();
    const ip = freshAddress();
    for (let i = 0; i < 7; i++) await reserve(a, visitor, ip);
    const { held, refused } = split(await Promise.allSettled(Array.from({ length: 50 }, (_, i) => reserve(i % 2 ? a : b, visitor, ip))));
    expect(held).toHaveLength(3);
    expect(refused).toHaveLength(47);
    for (const error of refused) {
      expect(error).toBeInstanceOf(AppException);
      expect(error).toMatchObject({ code: ErrorCode.ANON_LIMIT_REACHED, status: 429 });
      expect(Date.parse((error as AppException).details.resets_at as string)).toBeGreaterThan(Date.now() + DAY - 60_000);
    }
    expect(await a.describe(visitor)).toMatchObject({ messages_used: 10, messages_limit: 10, messages_remaining: 0 });
  });

  it('lets exactly 5 of 50 fresh anonymous ids on one address through when the address limit is 5', async () => {
    const [c, d] = await services(10, 5);
    const ip = freshAddress();
    const { held, refused } = split(await Promise.allSettled(Array.from({ length: 50 }, (_, i) => reserve(i % 2 ? c : d, anon(), ip))));
    expect(held).toHaveLength(5);
    expect(refused).toHaveLength(45);
    for (const error of refused) expect(error).toMatchObject({ code: ErrorCode.ANON_LIMIT_REACHED });
    // Another address is not affected; IPv6 addresses of one /64 count together.
    await expect(reserve(c, anon(), freshAddress())).resolves.toMatchObject({ state: 'held' });
    for (let i = 1; i <= 5; i++) await reserve(c, anon(), `2001:db8:aa:bb::${i}`);
    await expect(reserve(c, anon(), '2001:db8:aa:bb:ffff::9')).rejects.toMatchObject({ code: ErrorCode.ANON_LIMIT_REACHED });
  });

  it('is idempotent per message key and takes a refunded message out of the count', async () => {
    const visitor = anon();
    const ip = freshAddress();
    const key = randomUUID();
    const same = await Promise.all(Array.from({ length: 8 }, (_, i) => reserve(i % 2 ? a : b, visitor, ip, key)));
    expect(same.filter((r) => !r.existing)).toHaveLength(1);
    expect(await a.describe(visitor)).toMatchObject({ messages_used: 1, messages_remaining: 9 });

    await a.settle(same[0], { usage: null, estimated: false, refund: true });
    await b.settle(same[1], { usage: null, estimated: false, refund: true });
    expect(await a.describe(visitor)).toMatchObject({ messages_used: 0, messages_remaining: 10, resets_at: null });
    expect(await reserve(a, visitor, ip, key)).toMatchObject({ existing: true, state: 'refunded' });

    const kept = await reserve(a, visitor, ip);
    await a.settle(kept, { usage: { inputTokens: 1, outputTokens: 1 }, estimated: false, refund: false });
    // A refund after the settle changes nothing: the message counts.
    await a.settle(kept, { usage: null, estimated: false, refund: true });
    expect(await a.describe(visitor)).toMatchObject({ messages_used: 1 });
    expect(await reserve(a, visitor, ip, kept.messageKey)).toMatchObject({ existing: true, state: 'settled' });
  });

  it('counts a rolling 24 h window and says when a slot frees up', async () => {
    const visitor = anon();
    const ip = freshAddress();
    for (let i = 0; i < 10; i++) await reserve(a, visitor, ip);
    // Age the messages: one left the window 1 h ago, the next leaves in 2 h, then in 3 h...
    await sql.query(
      `UPDATE anon_usage SET created_at = now() - interval '25 hours' WHERE message_key = (
         SELECT message_key FROM anon_usage WHERE anon_id = $1 ORDER BY created_at LIMIT 1)`,
      [visitor.anonId],
    );
    const rest: { message_key: string }[] = await sql.query(
      'SELECT message_key FROM anon_usage WHERE anon_id = $1 AND created_at > now() - interval \'24 hours\' ORDER BY created_at',
      [visitor.anonId],
    );
    for (const [i, row] of rest.entries()) {
      await sql.query(`UPDATE anon_usage SET created_at = now() - interval '1 hour' * (22 - $2) WHERE message_key = $1`, [row.message_key, i]);
    }
    const info = await a.describe(visitor);
    expect(info).toMatchObject({ identity: 'anonymous', anon_id: visitor.anonId, messages_used: 9, messages_limit: 10, messages_remaining: 1 });
    expect(Math.abs(Date.parse(info.resets_at!) - (Date.now() + 2 * 3600_000))).toBeLessThan(60_000);

    await reserve(a, visitor, ip);
    const refusal = (await reserve(a, visitor, ip).catch((error: unknown) => error)) as AppException;
    expect(refusal).toMatchObject({ code: ErrorCode.ANON_LIMIT_REACHED });
    // Full: the oldest counted message (22 h old) frees the next slot in 2 h.
    expect(Math.abs(Date.parse(refusal.details.resets_at as string) - (Date.now() + 2 * 3600_000))).toBeLessThan(60_000);
  });

  it('describes a visitor: exactly the contract fields, and honours the address quota when given', async () => {
    const [c] = await services(10, 2);
    const visitor = anon();
    const ip = freshAddress();
    expect(await c.describe(visitor)).toEqual({
      identity: 'anonymous',
      anon_id: visitor.anonId,
      messages_used: 0,
      messages_limit: 10,
      messages_remaining: 10,
      resets_at: null,
    });
    await reserve(c, anon(), ip);
    await reserve(c, visitor, ip);
    const info = await c.describe(visitor, { ip });
    expect(info).toMatchObject({ messages_used: 1, messages_limit: 10, messages_remaining: 0 });
    expect(typeof info.resets_at).toBe('string');
  });

  it('counts a visitor without a known address by its id only', async () => {
    const visitor = anon();
    const r = await reserve(a, visitor, undefined);
    expect(r).toMatchObject({ clientAddress: null, state: 'held', amount: 0 });
    expect(await a.describe(visitor)).toMatchObject({ messages_used: 1 });
  });
});
