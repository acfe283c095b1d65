import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { identityOfOwner, ownerKey, type Identity } from '../../auth/identity.js';
import { toChatView } from '../../chats/chat-view.js';
import { ChatsRepository } from '../../chats/chats.repository.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/core.module.js';
import { isUniqueViolation } from '../../common/db-errors.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { DomainEvents } from '../../common/events/domain-events.js';
import type { AppLogger } from '../../common/logging/logger.js';
import type { AppConfig, ModelConfig } from '../../config/app-config.js';
import { HealthCounters } from '../../health/health-counters.js';
import { LlmService } from '../../llm/llm.service.js';
import { ProviderFailure, type ChatTurn, type TokenUsage } from '../../llm/llm.types.js';
import { RedisService } from '../../redis/redis.service.js';
import type { Reservation } from '../../usage/reservation.js';
import { UsageService } from '../../usage/usage.service.js';
import type { MessageEntity } from '../message.entity.js';
import { MessagesRepository } from '../messages.repository.js';
import type { AssistantComplete, GenerationEvent, GenerationEventMap, GenerationEventName } from '../stream-events.js';
import { GENERATION_LOG, type FollowHandlers, type GenerationLog } from './generation-log.js';

export interface SendCommand {
  identity: Identity;
  ip?: string;
  chatId?: string;
  model?: string;
  content: string;
  temperature?: number;
  maxTokens?: number;
  clientMessageId?: string;
  // Keep generating when the client goes away, so that it can resume later.
  keepGenerating?: boolean;
  // Called once the generation exists, before its first frame (a new one only, not a retry).
  onCreated?: (ids: { messageId: string; chatId: string }) => void;
}

export interface RegenerateCommand {
  identity: Identity;
  ip?: string;
  chatId: string;
  messageId?: string;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  keepGenerating?: boolean;
}

// A running or finished generation that a transport can follow from any point.
export interface GenerationHandle {
  messageId: string;
  chatId: string;
  follow(afterSeq: number, handlers: FollowHandlers): Promise<() => void>;
  // The transport's client went away; the last one leaving stops the generation unless it was
  // asked to keep generating.
  release(): void;
}

interface Running {
  abort: AbortController;
  identity: Identity;
  holders: number;
  keepGenerating: boolean;
  stopCause?: 'stopped_by_user' | 'client_disconnected' | 'shutdown';
  done: Promise<void>;
}

interface RunContext {
  identity: Identity;
  // The client address: the closing usage_info also counts the address's anonymous quota.
  ip?: string;
  chatId: string;
  userMessage: MessageEntity;
  assistantId: string;
  model: ModelConfig;
  maxTokens: number;
  temperature?: number;
  reservation: Reservation;
  inputEstimate: number;
  terminal: 'assistant_complete' | 'assistant_regenerated';
  running: Running;
  seq: number;
}

const HEARTBEAT_MS = 15_000;
const ABANDONED_AFTER_S = 60;
const PROGRESS_SAVE_MS = 1_000;

// The one generation engine. It turns a send or regenerate request into an ordered sequence of
// events kept in the generation log; the SSE response and the socket rooms are sinks of it.
@Injectable()
export class GenerationService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly running = new Map<string, Running>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(GENERATION_LOG) private readonly log: GenerationLog,
    private readonly messages: MessagesRepository,
    private readonly chats: ChatsRepository,
    private readonly llm: LlmService,
    private readonly usage: UsageService,
    private readonly events: DomainEvents,
    private readonly health: HealthCounters,
    private readonly redis: RedisService,
  ) {}

  async onModuleInit(): Promise<void> {
    // Alone, every message still "streaming" at start was left by a dead process. With Redis,
    // other instances may be mid-generation: only those without a recent heartbeat are dead.
    await this.closeAbandoned(this.redis.enabled ? ABANDONED_AFTER_S : 0);
    this.timers.push(
      setInterval(() => void this.heartbeat(), HEARTBEAT_MS),
      setInterval(() => void this.closeAbandoned(ABANDONED_AFTER_S), ABANDONED_AFTER_S * 1000),
    );
    for (const timer of this.timers) timer.unref();
    if (this.redis.enabled) {
      const subscriber = await this.redis.subscriber();
      await subscriber.subscribe(`${this.redis.prefix}stop`, (messageId) => this.abortLocal(messageId, 'stopped_by_user'));
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    const pending = [...this.running.entries()].map(([id, run]) => {
      this.abortLocal(id, 'shutdown');
      return run.done;
    });
    await Promise.allSettled(pending);
  }

  async send(cmd: SendCommand): Promise<GenerationHandle> {
    const model = this.llm.resolveModel(cmd.model);
    const maxTokens = this.maxTokensFor(model, cmd.maxTokens);
    if (cmd.content.length > this.config.maxContentChars) {
      throw new AppException(ErrorCode.VALIDATION_ERROR, `content must be at most ${this.config.maxContentChars} characters`);
    }
    const owner = ownerKey(cmd.identity);
    const requestHash = hashRequest(cmd);

    if (cmd.clientMessageId) {
      const existing = await this.messages.findByClientMessageId(owner, cmd.clientMessageId);
      if (existing) return this.attachToRetry(existing, requestHash, cmd);
    }
    const chat = cmd.chatId ? await this.chats.findOwned(cmd.chatId, cmd.identity) : null;
    if (cmd.chatId && !chat) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');

    const assistantId = randomUUID();
    const inputEstimate = this.llm.estimateTokens(cmd.content) + (chat ? this.config.historyTokenBudget / 4 : 0);
    const reservation = await this.reserve(cmd, model, Math.ceil(inputEstimate), maxTokens, assistantId);

    let turn: Awaited<ReturnType<MessagesRepository['createTurn']>>;
    try {
      turn = await this.messages.createTurn({
        newChat: chat ? undefined : { owner: cmd.identity, title: titleFrom(cmd.content) },
        chatId: chat?.id,
        user: { content: cmd.content, ownerKey: owner, clientMessageId: cmd.clientMessageId ?? null, requestHash },
        assistant: { id: assistantId, model: model.id, replacesId: null },
      });
    } catch (error) {
      await this.usage.settle(reservation, { usage: null, estimated: false, refund: true });
      // Two retries with one key raced: the loser attaches to the winner's generation.
      if (cmd.clientMessageId && isUniqueViolation(error, 'messages_owner_client_id_key')) {
        const existing = await this.messages.findByClientMessageId(owner, cmd.clientMessageId);
        if (existing) return this.attachToRetry(existing, requestHash, cmd);
      }
      throw error;
    }
    if (turn.chatCreated) this.events.emit('chat.created', { owner: cmd.identity, chat: toChatView(turn.chat) });
    cmd.onCreated?.({ messageId: assistantId, chatId: turn.chat.id });

    return this.start(
      cmd,
      { chatId: turn.chat.id, userMessage: turn.user!, assistantId, model, maxTokens, reservation, inputEstimate, terminal: 'assistant_complete' },
      null,
    );
  }

  async regenerate(cmd: RegenerateCommand): Promise<GenerationHandle> {
    const chat = await this.chats.findOwned(cmd.chatId, cmd.identity);
    if (!chat) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
    const userMessage = await this.messages.findLastUserMessage(chat.id);
    if (!userMessage) throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'This chat has no message to answer again');
    const current = await this.messages.findLatestAnswer(userMessage.id);
    if (cmd.messageId && cmd.messageId !== current?.id && cmd.messageId !== userMessage.id) {
      throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Only the last answer of a chat can be regenerated');
    }
    if (current?.status === 'streaming') {
      throw new AppException(ErrorCode.VALIDATION_ERROR, 'The last answer is still being generated; stop it first');
    }
    const previousModel = current?.model && this.llm.listModels().some((m) => m.id === current.model) ? current.model : undefined;
    const model = this.llm.resolveModel(cmd.model ?? previousModel);
    const maxTokens = this.maxTokensFor(model, cmd.maxTokens);
    const assistantId = randomUUID();
    const inputEstimate = this.llm.estimateTokens(userMessage.content) + this.config.historyTokenBudget / 4;
    const reservation = await this.reserve(cmd, model, Math.ceil(inputEstimate), maxTokens, assistantId);

    const replaces = current && current.status !== 'superseded' ? current.id : null;
    try {
      await this.messages.createTurn({ chatId: chat.id, replyToId: userMessage.id, assistant: { id: assistantId, model: model.id, replacesId: replaces } });
    } catch (error) {
      await this.usage.settle(reservation, { usage: null, estimated: false, refund: true });
      throw error;
    }
    return this.start(
      cmd,
      { chatId: chat.id, userMessage, assistantId, model, maxTokens, reservation, inputEstimate, terminal: 'assistant_regenerated' },
      replaces,
    );
  }

  // Stops a generation of this owner, wherever it runs. Answers the message's status.
  async stop(identity: Identity, messageId: string): Promise<{ message_id: string; status: string }> {
    const message = await this.messages.findOwned(messageId, identity);
    if (!message || message.role !== 'assistant') throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Message not found');
    if (message.status !== 'streaming') return { message_id: message.id, status: message.status };
    const local = this.running.get(message.id);
    if (local) {
      this.abortLocal(message.id, 'stopped_by_user');
      await Promise.race([local.done, sleep(2000)]);
      return { message_id: message.id, status: (await this.messages.findById(message.id))?.status ?? 'stopped' };
    }
    if (this.redis.enabled) await (await this.redis.command()).publish(`${this.redis.prefix}stop`, message.id);
    return { message_id: message.id, status: 'stopping' };
  }

  // A generation of this owner to follow (resume), running or finished.
  async attach(identity: Identity, messageId: string): Promise<GenerationHandle> {
    const message = await this.messages.findOwned(messageId, identity);
    if (!message || message.role !== 'assistant') throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Message not found');
    return this.handleFor(message, false);
  }

  private async attachToRetry(existing: MessageEntity, requestHash: string, cmd: SendCommand): Promise<GenerationHandle> {
    if (existing.requestHash !== requestHash) {
      throw new AppException(ErrorCode.IDEMPOTENCY_CONFLICT, 'client_message_id was already used with a different request');
    }
    const answer = await this.messages.findLatestAnswer(existing.id);
    if (!answer) throw new AppException(ErrorCode.INTERNAL_ERROR, 'The earlier request has no answer');
    return this.handleFor(answer, true, cmd.keepGenerating);
  }

  private async reserve(cmd: { identity: Identity; ip?: string }, model: ModelConfig, inputTokens: number, maxTokens: number, messageKey: string): Promise<Reservation> {
    try {
      return await this.usage.reserve({ identity: cmd.identity, ip: cmd.ip, model, inputTokens, maxTokens, messageKey });
    } catch (error) {
      if (error instanceof AppException && (error.code === ErrorCode.ANON_LIMIT_REACHED || error.code === ErrorCode.INSUFFICIENT_BALANCE)) {
        this.events.emit('quota.refused', { owner: cmd.identity, error });
      }
      throw error;
    }
  }

  private maxTokensFor(model: ModelConfig, requested: number | undefined): number {
    if (requested !== undefined && requested > model.maxOutputTokens) {
      throw new AppException(ErrorCode.VALIDATION_ERROR, `max_tokens must be at most ${model.maxOutputTokens} for ${model.id}`);
    }
    return requested ?? Math.min(this.config.defaultMaxTokens, model.maxOutputTokens);
  }

  private register(messageId: string, identity: Identity, keepGenerating = false): Running {
    const running: Running = { abort: new AbortController(), identity, holders: 0, keepGenerating, done: Promise.resolve() };
    this.running.set(messageId, running);
    this.health.streamStarted();
    return running;
  }

  // Writes the opening frames before handing out the handle, so every follower sees them, then
  // runs the model in the background.
  private async start(
    cmd: Pick<SendCommand, 'identity' | 'ip' | 'temperature' | 'keepGenerating'>,
    opening: Omit<RunContext, 'identity' | 'ip' | 'temperature' | 'running' | 'seq'>,
    replaces: string | null,
  ): Promise<GenerationHandle> {
    const ctx: RunContext = {
      ...opening,
      identity: cmd.identity,
      ip: cmd.ip,
      temperature: cmd.temperature,
      running: this.register(opening.assistantId, cmd.identity, cmd.keepGenerating),
      seq: 0,
    };
    try {
      if (ctx.terminal === 'assistant_regenerated') {
        await this.emit(ctx, 'assistant_regenerating', { chat_id: ctx.chatId, message_id: ctx.assistantId, replaces });
      }
      await this.emit(ctx, 'assistant_typing', { chat_id: ctx.chatId, user_message_id: ctx.userMessage.id, message_id: ctx.assistantId, model: ctx.model.id });
    } catch (error) {
      // The log is unreachable (Redis down): close the message and its usage rather than leave them open.
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not open the generation log');
      await this.finish(ctx, '', undefined, 'error', new AppException(ErrorCode.INTERNAL_ERROR, 'Internal error while generating', { retryable: true }));
      throw error;
    }
    ctx.running.done = this.run(ctx).catch((error: unknown) => this.logger.error({ err: error, message_id: ctx.assistantId }, 'generation failed unexpectedly'));
    return this.handle(ctx.assistantId, ctx.chatId, ctx.running);
  }

  private async run(ctx: RunContext): Promise<void> {
    const { running } = ctx;
    let content = '';
    let usage: TokenUsage | undefined;
    let stopReason = 'end_turn';
    let failure: AppException | undefined;
    let lastSave = Date.now();
    let saving: Promise<void> = Promise.resolve();

    try {
      const history = await this.history(ctx);
      const stream = this.llm.stream({
        model: ctx.model.id,
        system: this.config.systemPrompt,
        messages: history,
        maxTokens: ctx.maxTokens,
        temperature: ctx.temperature,
        signal: running.abort.signal,
      });
      for await (const event of stream) {
        if (event.type === 'delta') {
          if (event.text === '') continue;
          content += event.text;
          await this.emit(ctx, 'assistant_delta', { chat_id: ctx.chatId, message_id: ctx.assistantId, delta: event.text });
          if (Date.now() - lastSave > PROGRESS_SAVE_MS) {
            lastSave = Date.now();
            const snapshot = content;
            saving = saving.then(() => this.messages.saveProgress(ctx.assistantId, snapshot)).catch(() => undefined);
          }
        } else {
          usage = event.usage;
          stopReason = event.stopReason;
        }
      }
      if (running.abort.signal.aborted) throw running.abort.signal.reason;
    } catch (error) {
      failure = this.toFailure(error, running);
    }
    await saving;
    await this.finish(ctx, content, usage, stopReason, failure);
  }

  private async finish(ctx: RunContext, content: string, usage: TokenUsage | undefined, stopReason: string, failure: AppException | undefined): Promise<void> {
    const { running } = ctx;
    const stopped = failure?.code === ErrorCode.STOPPED;
    const status = failure ? (stopped ? 'stopped' : 'error') : 'complete';
    const estimated = !usage;
    const finalUsage = usage ?? { inputTokens: Math.ceil(ctx.inputEstimate), outputTokens: this.llm.estimateTokens(content) };
    let stored = false;
    try {
      stored = await this.messages.finish(ctx.assistantId, {
        status,
        content,
        inputTokens: finalUsage.inputTokens,
        outputTokens: finalUsage.outputTokens,
        stopReason: stopped ? (running.stopCause ?? 'stopped_by_user') : failure ? 'error' : stopReason,
        errorCode: failure?.code ?? null,
      });
    } catch (error) {
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not store the finished message');
    }
    // Never announce an answer that is not what the database holds (the store failed, or the
    // abandoned-generation sweeper closed the message first).
    if (!stored && !failure) failure = new AppException(ErrorCode.INTERNAL_ERROR, 'The answer could not be stored', { retryable: true });
    try {
      // Nothing produced and nothing billed upstream: the attempt does not count.
      const refund = Boolean(failure) && !stopped && content === '';
      await this.usage.settle(ctx.reservation, { usage: refund ? null : finalUsage, estimated, refund });
    } catch (error) {
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not settle usage');
    }

    try {
      if (failure) {
        await this.emit(ctx, 'assistant_error', {
          chat_id: ctx.chatId,
          message_id: ctx.assistantId,
          code: failure.code,
          error: failure.message,
          retryable: failure.code === ErrorCode.PROVIDER_OVERLOADED || failure.details.retryable === true,
        });
      } else {
        const complete: AssistantComplete = {
          chat_id: ctx.chatId,
          message_id: ctx.assistantId,
          content,
          model: ctx.model.id,
          stop_reason: stopReason,
          usage: { input_tokens: finalUsage.inputTokens, output_tokens: finalUsage.outputTokens },
          created_at: new Date().toISOString(),
        };
        await this.emit(ctx, ctx.terminal, complete);
      }
      await this.emit(ctx, 'usage_info', await this.usage.describe(ctx.identity, { ip: ctx.ip }));
    } catch (error) {
      this.logger.error({ err: error, message_id: ctx.assistantId }, 'could not write the closing frames');
    } finally {
      await this.log.close(ctx.assistantId).catch(() => undefined);
      this.running.delete(ctx.assistantId);
      this.health.streamEnded();
    }
  }

  private toFailure(error: unknown, running: Running): AppException {
    if (running.abort.signal.aborted) {
      const message = running.stopCause === 'client_disconnected' ? 'The client disconnected' : 'The generation was stopped';
      return new AppException(ErrorCode.STOPPED, message);
    }
    if (error instanceof ProviderFailure) {
      this.logger.warn({ code: error.code, err: error.message }, 'model provider failed');
      return new AppException(error.code, error.code === ErrorCode.PROVIDER_OVERLOADED ? 'The model provider is overloaded; try again shortly' : 'The model provider failed', { retryable: error.retryable });
    }
    if (error instanceof AppException) return error;
    this.logger.error({ err: error }, 'generation error');
    return new AppException(ErrorCode.INTERNAL_ERROR, 'Internal error while generating', { retryable: true });
  }

  private async history(ctx: RunContext): Promise<ChatTurn[]> {
    const stored = await this.messages.conversation(ctx.chatId, ctx.userMessage.id);
    const turns: ChatTurn[] = [];
    for (const m of stored) {
      const last = turns.at(-1);
      // Consecutive turns of one role (an unanswered message) are joined: providers want turns to alternate.
      if (last && last.role === m.role) last.content += `\n\n${m.content}`;
      else turns.push({ role: m.role, content: m.content });
    }
    return this.llm.buildHistory(turns, this.config.historyTokenBudget);
  }

  private async emit<K extends GenerationEventName>(ctx: RunContext, event: K, data: GenerationEventMap[K]): Promise<void> {
    ctx.seq += 1;
    const frame = { id: `${ctx.assistantId}:${ctx.seq}`, event, data } as GenerationEvent;
    await this.log.append(ctx.assistantId, frame);
    this.events.emit('generation.event', { owner: ctx.identity, chatId: ctx.chatId, event: frame });
  }

  private handle(messageId: string, chatId: string, running: Running | undefined): GenerationHandle {
    if (running) running.holders += 1;
    let released = false;
    return {
      messageId,
      chatId,
      follow: (afterSeq, handlers) => this.log.follow(messageId, afterSeq, handlers),
      release: () => {
        if (released || !running) return;
        released = true;
        running.holders -= 1;
        if (running.holders <= 0 && !running.keepGenerating) this.abortLocal(messageId, 'client_disconnected');
      },
    };
  }

  // A handle for an existing answer: its live log when it has one, else its stored result.
  private async handleFor(message: MessageEntity, holds: boolean, keepGenerating?: boolean): Promise<GenerationHandle> {
    const running = this.running.get(message.id);
    if (running && keepGenerating) running.keepGenerating = true;
    if (await this.log.has(message.id)) return this.handle(message.id, message.chatId, holds ? running : undefined);
    const frames = await this.storedFrames(message);
    return {
      messageId: message.id,
      chatId: message.chatId,
      follow: async (afterSeq, handlers) => {
        for (const frame of frames) if (Number(frame.id.split(':')[1]) > afterSeq) handlers.onEvent(frame);
        handlers.onEnd();
        return () => undefined;
      },
      release: () => undefined,
    };
  }

  // The frames of a generation whose log has expired, rebuilt from the stored message.
  private async storedFrames(message: MessageEntity): Promise<GenerationEvent[]> {
    const frames: GenerationEvent[] = [];
    const push = <K extends GenerationEventName>(event: K, data: GenerationEventMap[K]) =>
      frames.push({ id: `${message.id}:${frames.length + 1}`, event, data } as GenerationEvent);
    const identity = await this.ownerOf(message);
    push('assistant_typing', { chat_id: message.chatId, user_message_id: message.replyToId ?? '', message_id: message.id, model: message.model ?? '' });
    if (message.content) push('assistant_delta', { chat_id: message.chatId, message_id: message.id, delta: message.content });
    if (message.status === 'complete' || message.status === 'superseded') {
      push(message.replacesId ? 'assistant_regenerated' : 'assistant_complete', {
        chat_id: message.chatId,
        message_id: message.id,
        content: message.content,
        model: message.model ?? '',
        stop_reason: message.stopReason ?? 'end_turn',
        usage: { input_tokens: message.inputTokens ?? 0, output_tokens: message.outputTokens ?? 0 },
        created_at: message.updatedAt.toISOString(),
      });
    } else {
      const code = message.status === 'stopped' ? ErrorCode.STOPPED : (message.errorCode ?? ErrorCode.INTERNAL_ERROR);
      push('assistant_error', { chat_id: message.chatId, message_id: message.id, code, error: message.status === 'streaming' ? 'The generation is no longer running' : 'The generation did not complete', retryable: false });
    }
    if (identity) push('usage_info', await this.usage.describe(identity));
    return frames;
  }

  private async ownerOf(message: MessageEntity): Promise<Identity | undefined> {
    const chat = await this.chats.findById(message.chatId);
    if (!chat) return undefined;
    return identityOfOwner(chat.userId, chat.anonId);
  }

  private abortLocal(messageId: string, cause: NonNullable<Running['stopCause']>): void {
    const running = this.running.get(messageId);
    if (!running || running.abort.signal.aborted) return;
    running.stopCause = cause;
    running.abort.abort(new AppException(ErrorCode.STOPPED, cause));
  }

  private async heartbeat(): Promise<void> {
    await this.messages.touchStreaming([...this.running.keys()]).catch((error: unknown) => this.logger.warn({ err: error }, 'heartbeat failed'));
  }

  // Closes the messages of generations that died with their process, and settles their usage:
  // what was produced is charged as an estimate (the input is unknown by then), nothing if
  // nothing was produced, so no reservation stays held forever.
  private async closeAbandoned(staleSeconds: number): Promise<void> {
    try {
      const closed = await this.messages.closeAbandoned(staleSeconds);
      if (closed.length > 0) this.logger.warn({ closed: closed.length }, 'closed messages whose generation stopped with its process');
      for (const message of closed) {
        const model = this.config.models.find((m) => m.id === message.model) ?? { id: message.model ?? 'unknown', inputPrice: 0, outputPrice: 0 };
        const reservation: Reservation = { messageKey: message.id, identity: message.owner, model, amount: 0, clientAddress: null, state: 'held', existing: true };
        const outputTokens = this.llm.estimateTokens(message.content);
        await this.usage.settle(reservation, { usage: { inputTokens: 0, outputTokens }, estimated: true, refund: message.content === '' });
        // Resumers end now and later ones replay the stored message, with its error.
        await this.log.discard(message.id);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'closing abandoned generations failed');
    }
  }
}

function hashRequest(cmd: SendCommand): string {
  const canonical = JSON.stringify([cmd.chatId ?? null, cmd.model ?? null, cmd.content, cmd.temperature ?? null, cmd.maxTokens ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

// A new chat is named from its first message: the first line, trimmed to a readable length.
export function titleFrom(content: string): string {
  const line = content.trim().split(/\r?\n/)[0].replace(/\s+/g, ' ').trim();
  if (!line) return 'New chat';
  if (line.length <= 60) return line;
  const cut = line.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${(space > 30 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
