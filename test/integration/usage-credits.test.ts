import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/common/identity.js';
import { AppException } from '../../src/common/errors/app.exception.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { AnonUsageRepository } from '../../src/usage/anon-usage.repository.js';
import { CreditsRepository } from '../../src/usage/credits.repository.js';
import type { Reservation } from '../../src/usage/reservation.js';
import { Sql } from '../../src/database/sql.js';
import { UsageService } from '../../src/usage/usage.service.js';
import { UserEntity } from '../../src/users/user.entity.js';
import { UsersRepository } from '../../src/users/users.repository.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

// 1000 credits per 1000 tokens: a request of 100 input tokens and max_tokens 200 holds 300.
const MODEL = { id: 'test-model', inputPrice: 1000, outputPrice: 1000 };
const INITIAL = 1000;

// The repository's reads, on one instance's pool.
function creditReads(sql: Sql) {
  const repo = new CreditsRepository();
  return {
    findAccount: (userId: string) => repo.findAccount(sql, userId),
    ledgerBalance: (userId: string) => repo.ledgerBalance(sql, userId),
    ledgerReserved: (userId: string) => repo.ledgerReserved(sql, userId),
    listEntries: (userId: string, limit: number) => repo.listEntries(sql, userId, limit),
    findEntriesByKey: (key: string) => repo.findEntriesByKey(sql, key),
  };
}

interface Instance {
  dataSource: DataSource;
  credits: ReturnType<typeof creditReads>;
  sut: UsageService;
}

async function startInstance(url: string, config: AppConfig): Promise<Instance> {
  const dataSource = new DataSource(dataSourceOptions(url));
  await dataSource.initialize();
  const sql = Sql.of(dataSource);
  const sut = new UsageService(config, sql, new CreditsRepository(), new AnonUsageRepository(), createLogger('silent'));
  return { dataSource, credits: creditReads(sql), sut };
}

describe(UsageService.name + ' (credits)', () => {
  let db: TestDatabase;
  let a: Instance;
  // A second "instance" with its own connection pool on the same database.
  let b: Instance;
  let users: UsersRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ USER_INITIAL_CREDITS: String(INITIAL), LOG_LEVEL: 'silent' });
    a = await startInstance(db.url, config);
    b = await startInstance(db.url, config);
    users = new UsersRepository(a.dataSource.getRepository(UserEntity));
  });
  afterAll(async () => {
    await a?.dataSource.destroy();
    await b?.dataSource.destroy();
    await db?.drop();
  });

  async function newUser(): Promise<Identity & { kind: 'user' }> {
    const user = await users.create({ email: `${randomUUID()}@example.com`, passwordHash: 'x', name: null });
    await a.sut.grantInitialCredits(user.id);
    return { kind: 'user', userId: user.id };
  }

  const reserve = (sut: UsageService, identity: Identity, messageKey: string = randomUUID()) =>
    sut.reserve({ identity, ip: '203.0.113.9', model: MODEL, inputTokens: 100, maxTokens: 200, messageKey });

  async function expectConsistent(userId: string) {
    const account = await a.credits.findAccount(userId);
    expect(account!.balance).toBeGreaterThanOrEqual(0);
    expect(await a.credits.ledgerBalance(userId)).toBe(account!.balance);
    expect(await a.credits.ledgerReserved(userId)).toBe(account!.reserved);
    return account!;
  }

  it('grants the initial credits once, as a grant row', async () => {
    const user = await newUser();
    await a.sut.grantInitialCredits(user.userId);
    const { entries } = await a.credits.listEntries(user.userId, 10);
    expect(entries).toMatchObject([{ kind: 'grant', amount: INITIAL, note: 'initial credits' }]);
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL, reserved: 0 });
  });

  it('lets exactly k of 40 concurrent reserves through, on two instances, and ends consistent', async () => {
    const user = await newUser();
    const k = Math.floor(INITIAL / 300);
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => reserve(i % 2 ? a.sut : b.sut, user)));
    const held = results.filter((r): r is PromiseFulfilledResult<Reservation> => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(held).toHaveLength(k);
    expect(refused).toHaveLength(40 - k);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(AppException);
      expect(r.reason).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, status: 402, details: { credits_required: 300 } });
    }
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 300 * k, reserved: 300 * k });

    // Each produced 100 in + 50 out = 150 credits.
    await Promise.all(held.map((r, i) => (i % 2 ? a.sut : b.sut).settle(r, { usage: { inputTokens: 100, outputTokens: 50 }, estimated: false, refund: false })));
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 150 * k, reserved: 0 });
  });

  it('refuses a request that does not fit without holding anything', async () => {
    const user = await newUser();
    const big = a.sut.reserve({ identity: user, ip: undefined, model: MODEL, inputTokens: 500, maxTokens: 501, messageKey: randomUUID() });
    await expect(big).rejects.toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, details: { credits_balance: INITIAL, credits_required: 1001 } });
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL, reserved: 0 });
    expect((await a.credits.listEntries(user.userId, 10)).total).toBe(1);
  });

  it('charges a cut stream only for what was produced, marked estimated', async () => {
    const user = await newUser();
    const r = await reserve(a.sut, user);
    await a.sut.settle(r, { usage: { inputTokens: 100, outputTokens: 20 }, estimated: true, refund: false });
    const entries = await a.credits.findEntriesByKey(r.messageKey);
    expect(entries.map((e) => [e.kind, e.amount, e.estimated])).toEqual([
      ['reserve', -300, false],
      ['release', 300, false],
      ['charge', -120, true],
    ]);
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 120, reserved: 0 });
  });

  it('charges the whole hold, marked estimated, when the usage is unknown', async () => {
    const user = await newUser();
    const r = await reserve(a.sut, user);
    await a.sut.settle(r, { usage: null, estimated: false, refund: false });
    expect((await a.credits.findEntriesByKey(r.messageKey)).find((e) => e.kind === 'charge')).toMatchObject({ amount: -300, estimated: true });
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 300, reserved: 0 });
  });

  it('charges more than the hold from the free balance, and never below zero', async () => {
    const user = await newUser();
    const first = await reserve(a.sut, user); // 700 left
    // The provider reports more than estimated: 100 + 400 = 500 > 300 held, paid from the free 700.
    await a.sut.settle(first, { usage: { inputTokens: 100, outputTokens: 400 }, estimated: false, refund: false });
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 500, reserved: 0 });

    const second = await reserve(a.sut, user); // 200 left
    await a.sut.settle(second, { usage: { inputTokens: 5000, outputTokens: 5000 }, estimated: false, refund: false });
    const charge = (await a.credits.findEntriesByKey(second.messageKey)).find((e) => e.kind === 'charge');
    expect(charge).toMatchObject({ amount: -500, note: 'capped: 10000 due, 500 available' });
    expect(await expectConsistent(user.userId)).toEqual({ balance: 0, reserved: 0 });
  });

  it('refunds: nothing charged, the hold returned', async () => {
    const user = await newUser();
    const r = await reserve(a.sut, user);
    await a.sut.settle(r, { usage: null, estimated: false, refund: true });
    expect((await a.credits.findEntriesByKey(r.messageKey)).map((e) => e.kind)).toEqual(['reserve', 'refund']);
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL, reserved: 0 });
  });

  it('is idempotent per message key, even when the calls race', async () => {
    const user = await newUser();
    const key = randomUUID();
    const reservations = await Promise.all(Array.from({ length: 10 }, (_, i) => reserve(i % 2 ? a.sut : b.sut, user, key)));
    expect(reservations.filter((r) => !r.existing)).toHaveLength(1);
    expect(new Set(reservations.map((r) => `${r.messageKey}:${r.amount}:${r.state}`)).size).toBe(1);
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 300, reserved: 300 });

    const outcome = { usage: { inputTokens: 100, outputTokens: 100 }, estimated: false, refund: false };
    await Promise.all(reservations.map((r, i) => (i % 2 ? a.sut : b.sut).settle(r, outcome)));
    await a.sut.settle(reservations[0], { usage: null, estimated: false, refund: true });
    expect((await a.credits.findEntriesByKey(key)).map((e) => e.kind)).toEqual(['reserve', 'release', 'charge']);
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 200, reserved: 0 });

    const again = await reserve(a.sut, user, key);
    expect(again).toMatchObject({ existing: true, state: 'settled', amount: 300 });
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL - 200, reserved: 0 });
  });

  it('grants operator credits as ledger rows and refuses a bad amount', async () => {
    const user = await newUser();
    const { account, entry } = await a.sut.grant(user.userId, 50_000, 'support ticket 12');
    expect(account).toEqual({ balance: INITIAL + 50_000, reserved: 0 });
    expect(entry).toMatchObject({ kind: 'grant', amount: 50_000, note: 'support ticket 12' });
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      await expect(a.sut.grant(user.userId, bad)).rejects.toMatchObject({ code: ErrorCode.VALIDATION_ERROR });
    }
    expect(await expectConsistent(user.userId)).toEqual({ balance: INITIAL + 50_000, reserved: 0 });
  });

  it('describes a user: credits, and the generations charged in the last 24 h', async () => {
    const user = await newUser();
    const settled = await reserve(a.sut, user);
    await a.sut.settle(settled, { usage: { inputTokens: 10, outputTokens: 10 }, estimated: false, refund: false });
    await reserve(a.sut, user); // still running

    const info = await a.sut.describe(user);
    expect(info).toEqual({
      identity: 'user',
      user_id: user.userId,
      messages_used: 1,
      messages_limit: null,
      messages_remaining: null,
      resets_at: null,
      credits_balance: INITIAL - 20 - 300,
      credits_reserved: 300,
    });
  });

  it('describes a user without an account (made before credits existed) with zero credits', async () => {
    const user = await users.create({ email: `${randomUUID()}@example.com`, passwordHash: 'x', name: null });
    expect(await a.sut.describe({ kind: 'user', userId: user.id })).toMatchObject({ credits_balance: 0, credits_reserved: 0, messages_used: 0 });
  });
});
