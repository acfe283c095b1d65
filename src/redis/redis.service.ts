import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { createClient, type RedisClientType } from 'redis';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';

export type RedisClient = RedisClientType;

// The process's Redis connections when REDIS_URL is set: one for commands, one for
// subscriptions (a subscribed connection can do nothing else). Absent: single-instance mode.
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly enabled: boolean;
  // Put before every key and channel name (REDIS_KEY_PREFIX).
  readonly prefix: string;
  private commandClient?: RedisClient;
  private subscriberClient?: RedisClient;
  private connecting?: Promise<void>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    this.enabled = Boolean(config.redisUrl);
    this.prefix = config.redisKeyPrefix;
  }

  async command(): Promise<RedisClient> {
    await this.connect();
    return this.commandClient!;
  }

  async subscriber(): Promise<RedisClient> {
    await this.connect();
    return this.subscriberClient!;
  }

  // Whether Redis answers within `timeoutMs` (a client that lost its connection queues commands
  // instead of failing them, hence the timeout).
  async ping(timeoutMs: number): Promise<boolean> {
    const answered = (async () => (await (await this.command()).ping()) === 'PONG')();
    return withinMs(answered, timeoutMs).catch(() => false);
  }

  // `work`, or a failure once REDIS_COMMAND_TIMEOUT_MS has passed. The client's own timeout
  // covers a single command only until it is written and leaves MULTI out entirely; with Redis
  // killed, a transaction queued at that moment waits for Redis to come back.
  bounded<T>(work: Promise<T>): Promise<T> {
    return withinMs(work, this.config.redisCommandTimeoutMs);
  }

  // A new connection for a component that needs its own (e.g. the Socket.IO adapter, whose
  // reader blocks for up to a second per XREAD: its commands get more time).
  async newClient(minTimeoutMs = 0): Promise<RedisClient> {
    const client = this.create('extra', Math.max(minTimeoutMs, this.config.redisCommandTimeoutMs));
    await client.connect();
    return client;
  }

  private connect(): Promise<void> {
    if (!this.config.redisUrl) return Promise.reject(new Error('REDIS_URL is not set'));
    this.connecting ??= (async () => {
      this.commandClient = this.create('command');
      this.subscriberClient = this.create('subscriber');
      await Promise.all([this.commandClient.connect(), this.subscriberClient.connect()]);
    })();
    return this.connecting;
  }

  // Reconnects on its own, backing off up to 2 s between attempts (so it is back within a few
  // seconds of Redis); a command waits at most REDIS_COMMAND_TIMEOUT_MS, queued while the
  // connection is away included, then fails: nothing hangs on a Redis that is gone.
  private create(role: string, timeoutMs = this.config.redisCommandTimeoutMs): RedisClient {
    const client = createClient({
      url: this.config.redisUrl,
      socket: { connectTimeout: Math.max(timeoutMs, 1000), reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) + Math.floor(Math.random() * 100) },
      commandOptions: { timeout: timeoutMs },
    }) as RedisClient;
    client.on('error', (error: unknown) => this.logger.warn({ err: error, role }, 'redis connection error'));
    return client;
  }

  // The last shutdown phase: running generations drain in beforeApplicationShutdown and still
  // write their closing frames to Redis.
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commandClient?.close(), this.subscriberClient?.close()]);
  }
}

export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

export function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms)));
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}
