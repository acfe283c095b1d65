import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createClient } from 'redis';
import type { Identity } from '../common/identity.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';
import { withinMs } from '../redis/redis.service.js';
import { quotaAddress } from './client-address.js';

export interface RateLimitDecision {
  allowed: boolean;
  // 0 when allowed; otherwise how long until the current window ends.
  retryAfterMs: number;
}

// Fixed windows: at most `limit` hits per key in each `windowMs` window, the window starting
// with the key's first hit. Simple and cheap; a burst of up to 2 x limit across a window edge
// is possible, which is acceptable for abuse protection.
export interface RateLimitStore {
  consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

// One process only.
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private calls = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const now = this.now();
    if (++this.calls % 1000 === 0) this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return window.count <= limit ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: window.endsAt - now };
  }

  async close(): Promise<void> {
    this.windows.clear();
  }

  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

// INCR and, on the window's first hit, PEXPIRE, in one script so they cannot be separated
// (a counter without expiry would block its key for good). Returns [count, ms left].
const CONSUME_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`;

interface ScriptClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

// The part of a node-redis client the limiter uses.
type RedisConnection = ScriptClient & {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  readonly isOpen: boolean;
  readonly isReady: boolean;
};

// How long start-up waits for Redis before going on without it (node-redis keeps retrying).
const CONNECT_WAIT_MS = 3000;

// Shared by every instance using the same Redis, so limits hold across instances.
export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly client: ScriptClient,
    private readonly prefix = 'ratelimit:',
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {}

  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const reply = (await this.client.eval(CONSUME_SCRIPT, { keys: [this.prefix + key], arguments: [String(windowMs)] })) as [number, number];
    const [count, ttl] = reply.map(Number);
    return count <= limit ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: Math.max(1, ttl) };
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

// The limiter the guard and the socket gateway use: Redis when REDIS_URL is set, memory
// otherwise. One Redis connection per limiter (a singleton provider), closed with the module.
@Injectable()
export class RateLimiter implements OnModuleInit, OnModuleDestroy {
  private readonly store: RateLimitStore;
  private readonly redis?: RedisConnection;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    if (config.redisUrl) {
      // Fail fast instead of queueing commands while disconnected (see consume()).
      const client = createClient({ url: config.redisUrl, name: `${config.redisKeyPrefix.replace(/[^A-Za-z0-9_-]/g, '')}-rate-limiter`, disableOfflineQueue: true });
      client.on('error', (error: unknown) => this.logger.warn({ err: error, component: 'rate-limiter' }, 'redis connection error'));
      this.redis = client;
      this.store = new RedisRateLimitStore(client, `${config.redisKeyPrefix}ratelimit:`, async () => {
        // close() waits for pending replies; a client still trying to connect is just dropped.
        if (client.isReady) await client.close();
        else if (client.isOpen) client.destroy();
      });
    } else {
      this.store = new MemoryRateLimitStore();
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis) return;
    // An unreachable Redis must not hold the start: node-redis keeps reconnecting in the
    // background, and until it is connected consume() lets requests through.
    let timer: NodeJS.Timeout | undefined;
    const connected = this.redis.connect().then(
      () => true,
      (error: unknown) => {
        this.logger.error({ err: error, component: 'rate-limiter' }, 'could not connect to Redis for rate limits');
        return false;
      },
    );
    const waited = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CONNECT_WAIT_MS)));
    const ok = await Promise.race([connected, waited]);
    clearTimeout(timer);
    if (!ok) this.logger.error({ component: 'rate-limiter' }, 'Redis is not reachable: rate limits are not enforced until it is');
  }

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }

  // A limiter that cannot reach its store lets the request through: an outage of Redis should
  // not take the whole service down with it.
  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    try {
      const decision = this.store.consume(key, limit, windowMs);
      // A Redis that stops answering (no error, no reply) must not hold every request with it.
      return await (this.redis ? withinMs(decision, this.config.redisCommandTimeoutMs) : decision);
    } catch (error) {
      this.logger.warn({ err: error, component: 'rate-limiter' }, 'rate limit store failed; request allowed');
      return { allowed: true, retryAfterMs: 0 };
    }
  }

  // HTTP routes: config.rateLimitPerMinute per user, or per client address for anonymous callers.
  async checkRequest(identity: Identity | undefined, address: string | undefined): Promise<void> {
    await this.check(`http:${rateLimitSubject(identity, address)}`, this.config.rateLimitPerMinute);
  }

  // Socket events: call once per incoming event; throws RATE_LIMITED (the gateway acks and
  // emits it as `error`). config.socketEventsPerMinute per user or per client address.
  async checkSocketEvent(identity: Identity | undefined, address: string | undefined): Promise<void> {
    await this.check(`socket:${rateLimitSubject(identity, address)}`, this.config.socketEventsPerMinute);
  }

  // Socket.IO handshakes: config.socketConnectionsPerMinute per client address.
  async checkSocketConnection(address: string | undefined): Promise<void> {
    await this.check(`socket-connect:${rateLimitSubject(undefined, address)}`, this.config.socketConnectionsPerMinute);
  }

  private async check(key: string, limit: number): Promise<void> {
    const { allowed, retryAfterMs } = await this.consume(key, limit, 60_000);
    if (!allowed) {
      throw new AppException(ErrorCode.RATE_LIMITED, `Too many requests; retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
        retry_after_ms: retryAfterMs,
      });
    }
  }
}

// Whose budget a hit counts against. Anonymous ids cost nothing to mint, so anonymous callers
// are counted by address when it is known (IPv6 by /64, as for the quotas).
export function rateLimitSubject(identity: Identity | undefined, address: string | undefined): string {
  if (identity?.kind === 'user') return `u:${identity.userId}`;
  const counted = quotaAddress(address);
  if (counted) return `ip:${counted}`;
  return identity ? `a:${identity.anonId}` : 'ip:unknown';
}
