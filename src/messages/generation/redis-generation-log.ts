import type { RedisService } from '../../redis/redis.service.js';
import type { GenerationEvent } from '../stream-events.js';
import { seqOf, type FollowHandlers, type GenerationLog } from './generation-log.js';

type Wire = { event: GenerationEvent } | { end: true };

// The log in Redis Streams, so a client can resume on any instance: each event is an entry whose
// stream id is "0-<seq>"; live followers are woken through pub/sub on a channel of the same name.
export class RedisGenerationLog implements GenerationLog {
  constructor(
    private readonly redis: RedisService,
    private readonly maxEvents = 20_000,
    private readonly ttlMs = 15 * 60_000,
  ) {}

  private key(messageId: string): string {
    return `${this.redis.prefix}gen:${messageId}`;
  }

  async append(messageId: string, event: GenerationEvent): Promise<void> {
    await this.write(messageId, `0-${seqOf(event)}`, { event });
  }

  async close(messageId: string): Promise<void> {
    await this.write(messageId, '*', { end: true });
  }

  async follow(messageId: string, afterSeq: number, handlers: FollowHandlers): Promise<() => void> {
    const subscriber = await this.redis.subscriber();
    const command = await this.redis.command();
    let last = afterSeq;
    let ended = false;
    let replaying = true;
    const buffered: Wire[] = [];

    const deliver = (wire: Wire) => {
      if (ended) return;
      if ('end' in wire) {
        ended = true;
        void subscriber.unsubscribe(this.key(messageId), listener).catch(() => undefined);
        handlers.onEnd();
        return;
      }
      const seq = seqOf(wire.event);
      if (seq <= last) return;
      last = seq;
      handlers.onEvent(wire.event);
    };
    const listener = (message: string) => {
      const wire = JSON.parse(message) as Wire;
      if (replaying) buffered.push(wire);
      else deliver(wire);
    };

    // Subscribe first, then read the stored events: whatever is published meanwhile is buffered
    // and de-duplicated by seq.
    await subscriber.subscribe(this.key(messageId), listener);
    let stored;
    try {
      stored = await command.xRange(this.key(messageId), `0-${afterSeq + 1}`, '+');
    } catch (error) {
      await subscriber.unsubscribe(this.key(messageId), listener).catch(() => undefined);
      throw error;
    }
    for (const entry of stored ?? []) deliver(JSON.parse(entry.message.wire) as Wire);
    replaying = false;
    for (const wire of buffered) deliver(wire);
    return () => {
      if (ended) return;
      ended = true;
      void subscriber.unsubscribe(this.key(messageId), listener).catch(() => undefined);
    };
  }

  async discard(messageId: string): Promise<void> {
    await this.close(messageId);
    await (await this.redis.command()).del(this.key(messageId));
  }

  async has(messageId: string): Promise<boolean> {
    return (await (await this.redis.command()).exists(this.key(messageId))) > 0;
  }

  private async write(messageId: string, id: string, wire: Wire): Promise<void> {
    const command = await this.redis.command();
    const payload = JSON.stringify(wire);
    await command
      .multi()
      .xAdd(this.key(messageId), id, { wire: payload }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.maxEvents } })
      .pExpire(this.key(messageId), this.ttlMs)
      .publish(this.key(messageId), payload)
      .exec();
  }
}
