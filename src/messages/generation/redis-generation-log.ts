import type { AppLogger } from '../../common/logging/logger.js';
import type { RedisService } from '../../redis/redis.service.js';
import type { GenerationEvent } from '../stream-events.js';
import { MemoryGenerationLog, seqOf, type FollowHandlers, type GenerationLog } from './generation-log.js';

type Wire = { event: GenerationEvent } | { end: true };

// How long this instance keeps the frames of a generation it ran, after its end, for followers
// here (Redis keeps them for ttlMs, for every instance).
const LOCAL_TTL_MS = 60_000;

// The log in Redis Streams, so a client can resume on any instance: each event is an entry whose
// stream id is "0-<seq>"; live followers are woken through pub/sub on a channel of the same name.
// The instance running a generation also keeps its frames in memory and serves its own followers
// from there, so its streams go on while Redis is away. A generation whose Redis log missed a
// frame (Redis down or slow) stops writing there and, at its end, removes what it wrote: a resume
// elsewhere then replays the stored message instead of a log with a gap.
export class RedisGenerationLog implements GenerationLog {
  private readonly local = new MemoryGenerationLog(20_000, LOCAL_TTL_MS, 1_000);
  // Generations of this instance whose Redis log is incomplete.
  private readonly broken = new Set<string>();

  constructor(
    private readonly redis: RedisService,
    private readonly maxEvents = 20_000,
    private readonly ttlMs = 15 * 60_000,
    private readonly logger?: AppLogger,
  ) {}

  private key(messageId: string): string {
    return `${this.redis.prefix}gen:${messageId}`;
  }

  append(messageId: string, event: GenerationEvent): Promise<void> | void {
    this.local.append(messageId, event);
    if (this.broken.has(messageId)) return;
    return this.write(messageId, `0-${seqOf(event)}`, { event }).catch((error: unknown) => this.breakLog(messageId, error));
  }

  async close(messageId: string): Promise<void> {
    await this.local.close(messageId);
    if (this.broken.delete(messageId)) {
      // Best effort, in one transaction: followers elsewhere are ended (their clients resume from
      // the stored message) and the incomplete log goes. A Redis that stopped answering runs it
      // when it answers again, after the frames queued before it; one that is gone lets the key
      // expire with its TTL.
      await this.endAndDelete(messageId).catch(() => undefined);
      return;
    }
    await this.write(messageId, '*', { end: true }).catch((error: unknown) => this.logger?.warn({ err: error, message_id: messageId }, 'could not close the generation log in Redis'));
  }

  async follow(messageId: string, afterSeq: number, handlers: FollowHandlers): Promise<() => void> {
    if (await this.local.has(messageId)) return this.local.follow(messageId, afterSeq, handlers);
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
    let stored;
    try {
      await this.redis.bounded(subscriber.subscribe(this.key(messageId), listener));
      stored = await this.redis.bounded(command.xRange(this.key(messageId), `0-${afterSeq + 1}`, '+'));
    } catch (error) {
      // Not awaited: a Redis that did not answer the subscribe may not answer this either.
      void subscriber.unsubscribe(this.key(messageId), listener).catch(() => undefined);
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
    await this.local.discard(messageId);
    this.broken.delete(messageId);
    await this.endAndDelete(messageId);
  }

  // Followers elsewhere are ended and the log goes, in one transaction.
  private async endAndDelete(messageId: string): Promise<void> {
    const key = this.key(messageId);
    const command = await this.command();
    await this.redis.bounded(command.multi().publish(key, JSON.stringify({ end: true } satisfies Wire)).del(key).exec());
  }

  async has(messageId: string): Promise<boolean> {
    if (await this.local.has(messageId)) return true;
    return (await this.redis.bounded((await this.redis.command()).exists(this.key(messageId)))) > 0;
  }

  private breakLog(messageId: string, error: unknown): void {
    if (this.broken.has(messageId)) return;
    this.broken.add(messageId);
    this.logger?.warn({ err: error, message_id: messageId }, 'generation log: Redis missed a frame; this answer streams from this instance only');
  }

  // A client that is not connected fails at once: a generation does not wait for Redis to return.
  private async command() {
    const command = await this.redis.command();
    if (!command.isReady) throw new Error('Redis is not connected');
    return command;
  }

  private async write(messageId: string, id: string, wire: Wire): Promise<void> {
    const command = await this.command();
    const payload = JSON.stringify(wire);
    await this.redis.bounded(
      command
        .multi()
        .xAdd(this.key(messageId), id, { wire: payload }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.maxEvents } })
        .pExpire(this.key(messageId), this.ttlMs)
        .publish(this.key(messageId), payload)
        .exec(),
    );
  }
}
