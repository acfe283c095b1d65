import { Inject, Injectable } from '@nestjs/common';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/core.module.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { DomainEvents } from '../../common/events/domain-events.js';
import type { Identity } from '../../common/identity.js';
import type { AppLogger } from '../../common/logging/logger.js';
import type { AppConfig, ModelConfig } from '../../config/app-config.js';
import { Sql } from '../../database/sql.js';
import { LlmService } from '../../llm/llm.service.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { ProviderFailure, type ChatTurn, type LlmEvent, type TokenUsage } from '../../llm/llm.types.js';
import type { UsageInfo } from '../../usage/usage-info.js';
import { UsageService, type Reservation } from '../../usage/usage.service.js';
import { withSources } from '../../documents/retrieval/sources-prompt.js';
import type { GenerationEventMap, GenerationEventName, MessageSource } from '../stream-events.js';
import { frames } from './generation-frames.js';
import { GENERATION_LOG, type GenerationLog } from './generation-log.js';
import { GenerationRegistry, type Admission, type GenerationHandle, type RunningGeneration } from './generation-registry.js';

// Everything a generation needs once its turn is stored.
export interface RunContext {
  identity: Identity;
  // The client address: the closing usage_info also counts the address's anonymous quota.
  ip?: string;
  chatId: string;
  userMessageId: string;
  assistantId: string;
  model: ModelConfig;
  maxTokens: number;
  temperature?: number;
  reservation: Reservation;
  inputEstimate: number;
  // The model's input, oldest first, ending with the user message to answer.
  history: ChatTurn[];
  // The document search under way (absent: nothing to search). Null when it failed.
  sources?: Promise<MessageSource[] | null>;
  // A regenerate: assistant_regenerating first, assistant_regenerated at the end.
  replaces?: { id: string | null };
  keepGenerating: boolean;
  audience: string[];
  receivedAt: number;
  // The turn's COMMIT, when it is still on its way: no frame is written before it has answered.
  committed?: Promise<void>;
  // Called once the turn is stored, before its first frame.
  onStored?: () => void;
}

interface Asking {
  stream: AsyncGenerator<LlmEvent>;
  first: Promise<IteratorResult<LlmEvent>>;
}

interface Run {
  ctx: RunContext;
  generation: RunningGeneration;
  seq: number;
  // The sources being stored with the answer: done before the answer's end is stored.
  storingSources?: Promise<void>;
}

// Runs a stored turn: streams the model, writes every frame once into the generation log and
// onto the domain event bus (the SSE responses and the socket rooms are sinks of those), and
// ends it: message, settle and usage in one transaction, then the closing frames.
@Injectable()
export class GenerationRunner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(GENERATION_LOG) private readonly log: GenerationLog,
    private readonly registry: GenerationRegistry,
    private readonly sql: Sql,
    private readonly messages: MessagesRepository,
    private readonly llm: LlmService,
    private readonly usage: UsageService,
    private readonly events: DomainEvents,
    private readonly metrics: MetricsService,
  ) {}

  // Writes the opening frames before handing out the handle, so every follower sees them, then
  // runs the model in the background.
  async start(ctx: RunContext, admission: Admission): Promise<GenerationHandle> {
    let markDone!: () => void;
    const generation: RunningGeneration = {
      messageId: ctx.assistantId,
      abort: new AbortController(),
      keepGenerating: ctx.keepGenerating,
      holders: 0,
      done: new Promise<void>((resolve) => (markDone = resolve)),
      content: '',
      checkpointed: { chars: 0, codePoints: 0 },
    };
    this.registry.add(generation, admission);
    const run: Run = { ctx, generation, seq: 0 };
    // With nothing to search first, the model is asked while the turn's COMMIT is on its way:
    // its answer cannot be shown before the turn is stored, and rarely arrives before.
    const early = ctx.committed && !ctx.sources ? this.ask(run, []) : undefined;
    if (ctx.committed) {
      try {
        await ctx.committed;
      } catch (error) {
        // Not stored: nothing to finish or settle (the transaction rolled back). The model is let go.
        generation.abort.abort(error);
        await early?.first.catch(() => undefined);
        this.registry.remove(ctx.assistantId);
        markDone();
        throw error;
      }
    }
    ctx.onStored?.();
    try {
      if (ctx.replaces) await this.emit(run, 'assistant_regenerating', { chat_id: ctx.chatId, message_id: ctx.assistantId, replaces: ctx.replaces.id });
      await this.emit(run, 'assistant_typing', { chat_id: ctx.chatId, user_message_id: ctx.userMessageId, message_id: ctx.assistantId, model: ctx.model.id });
    } catch (error) {
      // The log is unreachable (Redis down): close the message and its usage rather than leave them open.
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not open the generation log');
      generation.abort.abort(error);
      await early?.first.catch(() => undefined);
      await this.finish(run, undefined, 'error', new AppException(ErrorCode.INTERNAL_ERROR, 'Internal error while generating', { retryable: true }));
      markDone();
      throw error;
    }
    void this.run(run, early)
      .catch((error: unknown) => this.logger.error({ err: error, message_id: ctx.assistantId }, 'generation failed unexpectedly'))
      .finally(markDone);
    return this.registry.handle(ctx.assistantId, ctx.chatId, { generation, holds: true, attached: false });
  }

  // The model's stream, its request already on its way (the first event asked for).
  private ask(run: Run, sources: MessageSource[]): Asking {
    const { ctx, generation } = run;
    const stream = this.llm.stream({
      model: ctx.model.id,
      system: withSources(this.config.systemPrompt, sources),
      messages: ctx.history,
      maxTokens: ctx.maxTokens,
      temperature: ctx.temperature,
      signal: generation.abort.signal,
    });
    const first = stream.next();
    // Read by run(), or dropped when the turn did not commit: never unheard.
    first.catch(() => undefined);
    return { stream, first };
  }

  private async run(run: Run, early?: Asking): Promise<void> {
    const { ctx, generation } = run;
    let usage: TokenUsage | undefined;
    let stopReason = 'end_turn';
    let failure: AppException | undefined;
    const take = async (event: LlmEvent) => {
      if (event.type === 'delta') {
        // Storable as it is (LlmService's DeltaText: no NUL, well-formed) and never empty.
        const delta = event.text;
        if (generation.content === '') this.metrics.ttft.observe({ model: ctx.model.id }, (performance.now() - ctx.receivedAt) / 1000);
        generation.content += delta;
        const appended = this.emit(run, 'assistant_delta', { chat_id: ctx.chatId, message_id: ctx.assistantId, delta });
        if (appended) await appended;
      } else {
        usage = event.usage;
        stopReason = event.stopReason;
      }
    };
    try {
      const { stream, first } = early ?? this.ask(run, await this.sourcesOf(run));
      const head = await first;
      if (!head.done) {
        await take(head.value);
        for await (const event of stream) await take(event);
      }
      if (generation.abort.signal.aborted) throw generation.abort.signal.reason;
    } catch (error) {
      failure = this.toFailure(error, generation, ctx.model);
    }
    await this.finish(run, usage, stopReason, failure);
  }

  // The passages the search found: streamed (message_sources, before any delta), stored with the
  // answer and given to the model. None when nothing was searched or the search failed.
  private async sourcesOf(run: Run): Promise<MessageSource[]> {
    const { ctx } = run;
    const sources = ctx.sources ? await ctx.sources : null;
    if (!sources) return [];
    const appended = this.emit(run, 'message_sources', { chat_id: ctx.chatId, message_id: ctx.assistantId, sources });
    if (appended) await appended;
    if (sources.length > 0) {
      run.storingSources = this.messages.setSources(this.sql, ctx.assistantId, sources).catch((error: unknown) => {
        this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not store the sources of an answer');
      });
    }
    return sources;
  }

  private async finish(run: Run, usage: TokenUsage | undefined, stopReason: string, failure: AppException | undefined): Promise<void> {
    const { ctx, generation } = run;
    await run.storingSources;
    const content = generation.content;
    const stopped = failure?.code === ErrorCode.STOPPED || failure?.code === ErrorCode.SHUTTING_DOWN;
    const estimated = !usage;
    const finalUsage = usage ?? { inputTokens: Math.ceil(ctx.inputEstimate), outputTokens: this.llm.estimateTokens(content) };
    // Nothing produced and nothing billed upstream (a failure, or a shutdown before the first
    // token): the attempt does not count. A stop by the user counts.
    const refund = Boolean(failure) && failure?.code !== ErrorCode.STOPPED && content === '';
    let stored = false;
    let usageInfo: UsageInfo | undefined;
    try {
      [stored, , usageInfo] = await this.sql.batch(
        (tx) =>
          [
            this.messages.finish(tx, ctx.assistantId, {
              status: failure ? (stopped ? 'stopped' : 'error') : 'complete',
              content,
              inputTokens: finalUsage.inputTokens,
              outputTokens: finalUsage.outputTokens,
              stopReason: stopped ? (generation.stopCause ?? 'stopped_by_user') : failure ? 'error' : stopReason,
              errorCode: failure?.code ?? null,
            }),
            this.usage.settleIn(tx, ctx.reservation, { usage: refund ? null : finalUsage, estimated, refund }),
            this.usage.describeIn(tx, ctx.identity, { ip: ctx.ip }),
          ] as const,
      );
    } catch (error) {
      // Left "streaming": the sweeper closes and settles it once the database answers again.
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not store the finished message');
    }
    // Never announce an answer that is not what the database holds (the store failed, or the
    // abandoned-generation sweeper closed the message first).
    if (!stored && !failure) failure = new AppException(ErrorCode.INTERNAL_ERROR, 'The answer could not be stored', { retryable: true });
    this.count(ctx, failure ? (stopped ? 'stopped' : 'error') : 'complete', refund ? undefined : finalUsage);

    try {
      if (failure) await this.emit(run, 'assistant_error', frames.error(ctx.chatId, ctx.assistantId, failure));
      else {
        const completion = { content, model: ctx.model.id, stopReason, usage: finalUsage, createdAt: new Date() };
        await this.emit(run, frames.terminal(Boolean(ctx.replaces)), frames.complete(ctx.chatId, ctx.assistantId, completion));
      }
      usageInfo ??= await this.usage.describe(ctx.identity, { ip: ctx.ip }).catch(() => undefined);
      if (usageInfo) await this.emit(run, 'usage_info', usageInfo);
    } catch (error) {
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not write the closing frames');
    } finally {
      await this.log.close(ctx.assistantId).catch(() => undefined);
      this.registry.remove(ctx.assistantId);
    }
  }

  private toFailure(error: unknown, generation: RunningGeneration, model: ModelConfig): AppException {
    if (generation.abort.signal.aborted) {
      if (generation.stopCause === 'shutdown') {
        return new AppException(ErrorCode.SHUTTING_DOWN, 'The server is restarting; resume this answer or send again', { retryable: true });
      }
      const message = generation.stopCause === 'client_disconnected' ? 'The client disconnected' : 'The generation was stopped';
      return new AppException(ErrorCode.STOPPED, message);
    }
    if (error instanceof ProviderFailure) {
      this.metrics.providerErrors.inc({ provider: model.provider, code: error.code });
      this.logger.warn({ code: error.code, err: error.message }, 'model provider failed');
      return new AppException(error.code, error.code === ErrorCode.PROVIDER_OVERLOADED ? 'The model provider is overloaded; try again shortly' : 'The model provider failed', { retryable: error.retryable });
    }
    if (error instanceof AppException) return error;
    this.logger.error({ err: error }, 'generation error');
    return new AppException(ErrorCode.INTERNAL_ERROR, 'Internal error while generating', { retryable: true });
  }

  private count(ctx: RunContext, status: 'complete' | 'stopped' | 'error', usage: TokenUsage | undefined): void {
    const model = ctx.model.id;
    this.metrics.generations.inc({ model, status });
    this.metrics.duration.observe({ model }, (performance.now() - ctx.receivedAt) / 1000);
    if (usage) {
      this.metrics.tokens.inc({ model, direction: 'input' }, usage.inputTokens);
      this.metrics.tokens.inc({ model, direction: 'output' }, usage.outputTokens);
    }
  }

  // Each frame is made once and handed to every sink as it is. In memory nothing is awaited.
  private emit<K extends GenerationEventName>(run: Run, event: K, data: GenerationEventMap[K]): void | Promise<void> {
    run.seq += 1;
    const frame = frames.event(run.ctx.assistantId, run.seq, event, data);
    const appended = this.log.append(run.ctx.assistantId, frame);
    this.events.emit('generation.event', { owner: run.ctx.identity, chatId: run.ctx.chatId, audience: run.ctx.audience, event: frame });
    return appended;
  }
}
