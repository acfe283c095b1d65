import type { RedisService } from '../../redis/redis.service.js';

// How a stop reaches the instance that runs a generation. Alone, the running instance is this
// one and nothing needs to travel; with Redis, every instance hears every stop and acts on its own.
export interface StopChannel {
  publish(messageId: string): Promise<void>;
  subscribe(onStop: (messageId: string) => void): Promise<void>;
}

export const STOP_CHANNEL = Symbol('STOP_CHANNEL');

export class LocalStopChannel implements StopChannel {
  private readonly listeners: ((messageId: string) => void)[] = [];

  async publish(messageId: string): Promise<void> {
    for (const listener of this.listeners) listener(messageId);
  }

  async subscribe(onStop: (messageId: string) => void): Promise<void> {
    this.listeners.push(onStop);
  }
}

export class RedisStopChannel implements StopChannel {
  constructor(private readonly redis: RedisService) {}

  private get channel(): string {
    return `${this.redis.prefix}stop`;
  }

  async publish(messageId: string): Promise<void> {
    await this.redis.bounded((await this.redis.command()).publish(this.channel, messageId));
  }

  async subscribe(onStop: (messageId: string) => void): Promise<void> {
    await (await this.redis.subscriber()).subscribe(this.channel, onStop);
  }
}
