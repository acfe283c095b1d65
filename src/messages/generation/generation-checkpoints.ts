import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MessagesRepository, type Checkpoint } from '../../chats/messages.repository.js';
import { APP_LOGGER } from '../../common/core.module.js';
import type { AppLogger } from '../../common/logging/logger.js';
import { Sql } from '../../database/sql.js';
import { GenerationRegistry, type RunningGeneration } from './generation-registry.js';

const CHECKPOINT_MS = 1_000;
export const HEARTBEAT_MS = 15_000;

// Saves the text of every running generation, for crash recovery, in one statement per tick,
// and proves them alive (the sweeper closes those without a recent sign of life): a generation
// whose text grew is written; the others are touched every HEARTBEAT_MS.
@Injectable()
export class GenerationCheckpoints implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private lastHeartbeat = Date.now();
  private writing = false;

  constructor(
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly registry: GenerationRegistry,
    private readonly sql: Sql,
    private readonly messages: MessagesRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), CHECKPOINT_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async tick(now = Date.now()): Promise<void> {
    if (this.writing) return;
    const heartbeat = now - this.lastHeartbeat >= HEARTBEAT_MS;
    const batch: Checkpoint[] = [];
    const after = new Map<RunningGeneration, RunningGeneration['checkpointed']>();
    for (const generation of this.registry.all()) {
      const { chars, codePoints } = generation.checkpointed;
      if (generation.content.length > chars) {
        const tail = generation.content.slice(chars);
        batch.push({ id: generation.messageId, keep: codePoints, tail });
        after.set(generation, { chars: generation.content.length, codePoints: codePoints + countCodePoints(tail) });
      } else if (heartbeat) {
        batch.push({ id: generation.messageId, keep: codePoints, tail: '' });
      }
    }
    if (heartbeat) this.lastHeartbeat = now;
    if (batch.length === 0) return;
    this.writing = true;
    try {
      await this.messages.checkpoint(this.sql, batch);
      for (const [generation, saved] of after) generation.checkpointed = saved;
    } catch (error) {
      this.logger.warn({ err: error, generations: batch.length }, 'could not checkpoint the running generations');
    } finally {
      this.writing = false;
    }
  }
}

// As PostgreSQL counts characters: a lone surrogate (stored as U+FFFD) counts as one.
function countCodePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
