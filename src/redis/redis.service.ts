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

  // A new connection for a component that needs its own (e.g. the Socket.IO adapter).
  async newClient(): Promise<RedisClient> {
    const client = this.create('extra');
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

  private create(role: string): RedisClient {
    const client = createClient({ url: this.config.redisUrl }) as RedisClient;
    client.on('error', (error: unknown) => this.logger.warn({ err: error, role }, 'redis connection error'));
    return client;
  }

  // The last shutdown phase: running generations drain in beforeApplicationShutdown and still
  // write their closing frames to Redis.
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commandClient?.close(), this.subscriberClient?.close()]);
  }
}
