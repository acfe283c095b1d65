import type { ExecutionContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CONFIG, APP_LOGGER } from '../../src/common/core.module.js';
import { AppException } from '../../src/common/errors/app.exception.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { RateLimitGuard } from '../../src/usage/rate-limit.guard.js';
import { MemoryRateLimitStore, RateLimiter, RedisRateLimitStore } from '../../src/usage/rate-limiter.js';

// The real Redis: not reachable means these tests fail, they are never skipped.
const REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(MemoryRateLimitStore.name, () => {
  it('allows `limit` hits per window, then says when to retry', async () => {
    let now = 1_000_000;
    const sut = new MemoryRateLimitStore(() => now);
    for (let i = 0; i < 3; i++) expect(await sut.consume('k', 3, 60_000)).toEqual({ allowed: true, retryAfterMs: 0 });
    now += 10_000;
    expect(await sut.consume('k', 3, 60_000)).toEqual({ allowed: false, retryAfterMs: 50_000 });
    expect(await sut.consume('other', 3, 60_000)).toMatchObject({ allowed: true });
    now += 50_000;
    expect(await sut.consume('k', 3, 60_000)).toMatchObject({ allowed: true });
  });

  it('forgets finished windows', async () => {
    let now = 0;
    const sut = new MemoryRateLimitStore(() => now);
    for (let i = 0; i < 999; i++) await sut.consume(`key-${i}`, 1, 1000);
    now = 5000;
    await sut.consume('last', 1, 1000);
    expect(sut.size).toBe(1);
  });
});

describe(RedisRateLimitStore.name, () => {
  type Client = ReturnType<typeof createClient>;
  const clients: Client[] = [];
  let first: RedisRateLimitStore;
  let second: RedisRateLimitStore;
  const prefix = `test:ratelimit:${randomUUID()}:`;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const client: Client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
      await client.connect();
      clients.push(client);
    }
    // Two instances, each with its own connection to the shared Redis.
    first = new RedisRateLimitStore(clients[0], prefix);
    second = new RedisRateLimitStore(clients[1], prefix);
  });
  afterAll(async () => {
    if (clients[0]?.isOpen) {
      const keys = await clients[0].keys(`${prefix}*`);
      if (keys.length > 0) await clients[0].del(keys);
    }
    await Promise.all(clients.map((c) => (c.isOpen ? c.close() : undefined)));
  });

  it('allows `limit` hits per window across instances, then says when to retry', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).consume('shared', 5, 60_000)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    for (const r of results.filter((x) => !x.allowed)) {
      expect(r.retryAfterMs).toBeGreaterThan(50_000);
      expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    expect(await clients[0].pTTL(`${prefix}shared`)).toBeGreaterThan(0);
    expect(await first.consume('another', 5, 60_000)).toEqual({ allowed: true, retryAfterMs: 0 });
  });

  it('starts a new window when the old one expires', async () => {
    expect(await first.consume('short', 1, 100)).toMatchObject({ allowed: true });
    expect(await second.consume('short', 1, 100)).toMatchObject({ allowed: false });
    await sleep(150);
    expect(await second.consume('short', 1, 100)).toMatchObject({ allowed: true });
  });
});

describe(RateLimiter.name, () => {
  const logger = createLogger('silent');

  it('uses Redis when REDIS_URL is set, with one connection that closes with the module', async () => {
    const config = loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: `rl${process.pid}:`, RATE_LIMIT_PER_MINUTE: '2', SOCKET_EVENTS_PER_MINUTE: '3' });
    const moduleRef = await Test.createTestingModule({
      providers: [{ provide: APP_CONFIG, useValue: config }, { provide: APP_LOGGER, useValue: logger }, RateLimiter],
    }).compile();
    await moduleRef.init();
    const admin = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
    await admin.connect();
    const connections = async () => ((await admin.clientList()) as { name: string }[]).filter((c) => c.name === `rl${process.pid}-rate-limiter`).length;
    try {
      const before = await connections();
      expect(before).toBeGreaterThanOrEqual(1);
      const sut = moduleRef.get(RateLimiter);
      const user = { kind: 'user' as const, userId: randomUUID() };
      for (let i = 0; i < 3; i++) await sut.checkSocketEvent(user, '192.0.2.1');
      const refusal = await sut.checkSocketEvent(user, '192.0.2.1').catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(AppException);
      expect(refusal).toMatchObject({ code: ErrorCode.RATE_LIMITED, status: 429 });
      expect((refusal as AppException).details.retry_after_ms).toBeGreaterThan(0);
      expect(await admin.exists(`${config.redisKeyPrefix}ratelimit:socket:u:${user.userId}`)).toBe(1);

      await moduleRef.close();
      expect(await connections()).toBe(before - 1);
    } finally {
      await admin.close();
    }
  });

  it('does not hold the start when Redis is unreachable, lets requests through, and closes', async () => {
    const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1' });
    const sut = new RateLimiter(config, logger);
    await sut.onModuleInit();
    expect(await sut.consume('k', 1, 1000)).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(await sut.consume('k', 1, 1000)).toEqual({ allowed: true, retryAfterMs: 0 });
    await sut.onModuleDestroy();
  });

  it('lets requests through when its store fails', async () => {
    const config = loadConfig({ RATE_LIMIT_PER_MINUTE: '1' });
    const sut = new RateLimiter(config, logger);
    (sut as unknown as { store: { consume: () => Promise<never> } }).store = { consume: () => Promise.reject(new Error('down')) };
    expect(await sut.consume('k', 1, 1000)).toEqual({ allowed: true, retryAfterMs: 0 });
  });
});

describe(RateLimitGuard.name, () => {
  const config = loadConfig({ RATE_LIMIT_PER_MINUTE: '2' });
  const sut = new RateLimitGuard(new RateLimiter(config, createLogger('silent')));

  function context(req: { identity?: unknown; ip?: string }) {
    const ctx = {
      switchToHttp: () => ({ getRequest: () => ({ socket: {}, ...req }) }),
    } as unknown as ExecutionContext;
    return { ctx };
  }

  // The Retry-After header is the HTTP filter's, from retry_after_ms (see the e2e tests).
  it('counts per user, anonymous callers per address, and refuses with RATE_LIMITED and when to retry', async () => {
    const user = { identity: { kind: 'user', userId: randomUUID() }, ip: '192.0.2.7' };
    expect(await sut.canActivate(context(user).ctx)).toBe(true);
    expect(await sut.canActivate(context(user).ctx)).toBe(true);
    const refused = context(user);
    const error = await sut.canActivate(refused.ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retry_after_ms: expect.any(Number) } });
    expect((error as { details: { retry_after_ms: number } }).details.retry_after_ms).toBeGreaterThan(0);

    // Same address, other identities: anonymous ids rotate freely, so they share the address's budget.
    const anonA = { identity: { kind: 'anonymous', anonId: randomUUID() }, ip: '192.0.2.7' };
    const anonB = { identity: { kind: 'anonymous', anonId: randomUUID() }, ip: '::ffff:192.0.2.7' };
    expect(await sut.canActivate(context(anonA).ctx)).toBe(true);
    expect(await sut.canActivate(context(anonB).ctx)).toBe(true);
    await expect(sut.canActivate(context(anonA).ctx)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
  });
});
