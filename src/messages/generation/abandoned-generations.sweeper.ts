import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/core.module.js';
import type { AppLogger } from '../../common/logging/logger.js';
import type { AppConfig } from '../../config/app-config.js';
import { Sql } from '../../database/sql.js';
import { LlmService } from '../../llm/llm.service.js';
import { RedisService } from '../../redis/redis.service.js';
import { UsageService } from '../../usage/usage.service.js';
import { GENERATION_LOG, type GenerationLog } from './generation-log.js';
import { GenerationRegistry } from './generation-registry.js';

// A running generation proves itself alive every HEARTBEAT_MS (15 s), through a pool that may
// make it wait up to CONNECTION_WAIT_MS (30 s): two minutes of silence mean it is dead.
const ABANDONED_AFTER_S = 120;

// Closes the messages of generations that died with their process, and settles their usage:
// what was produced is charged as an estimate (the input is unknown by then), nothing if
// nothing was produced, so no reservation stays held forever.
@Injectable()
export class AbandonedGenerationsSweeper implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(GENERATION_LOG) private readonly log: GenerationLog,
    private readonly sql: Sql,
    private readonly messages: MessagesRepository,
    private readonly llm: LlmService,
    private readonly usage: UsageService,
    private readonly redis: RedisService,
    private readonly registry: GenerationRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    // Alone, every message still "streaming" at start was left by a dead process. With Redis,
    // other instances may be mid-generation: only those without a recent heartbeat are dead.
    await this.sweep(this.redis.enabled ? ABANDONED_AFTER_S : 0);
    this.timer = setInterval(() => void this.sweep(ABANDONED_AFTER_S), ABANDONED_AFTER_S * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  // One message at a time, each closed and settled in one transaction (a settle never runs
  // for a message that turned out alive), each on its own: one that fails does not leave the
  // others open.
  async sweep(staleSeconds: number): Promise<void> {
    let abandoned: string[];
    try {
      abandoned = await this.messages.findAbandoned(this.sql, staleSeconds, [...this.registry.all()].map((g) => g.messageId));
    } catch (error) {
      this.logger.warn({ err: error }, 'could not look for abandoned generations');
      return;
    }
    let closed = 0;
    for (const id of abandoned) {
      try {
        const message = await this.sql.transaction(async (tx) => {
          const found = await this.messages.closeAbandoned(tx, id, staleSeconds);
          if (!found) return null;
          const model = this.config.models.find((m) => m.id === found.model) ?? { id: found.model ?? 'unknown', inputPrice: 0, outputPrice: 0 };
          // What was produced is charged as an estimate (the input is unknown by then); nothing
          // if nothing was produced.
          const outputTokens = this.llm.estimateTokens(found.content);
          await this.usage.settleByKeyIn(tx, id, model, { usage: { inputTokens: 0, outputTokens }, estimated: true, refund: found.content === '' });
          return found;
        });
        if (!message) continue;
        closed++;
        // Resumers end now and later ones replay the stored message, with its error.
        await this.log.discard(id).catch((error: unknown) => this.logger.warn({ err: error, message_id: id }, 'could not discard the log of an abandoned generation'));
      } catch (error) {
        this.logger.warn({ err: error, message_id: id }, 'could not close an abandoned generation');
      }
    }
    if (closed > 0) this.logger.warn({ closed }, 'closed messages whose generation stopped with its process');
  }
}
