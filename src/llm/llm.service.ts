import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig, ModelConfig, ProviderName } from '../config/app-config.js';
import { abortError, sleep } from './abort.js';
import { AnthropicProvider } from './anthropic.provider.js';
import { EchoProvider } from './echo.provider.js';
import { buildHistory } from './history.js';
import { ProviderFailure, type ChatTurn, type GenerateRequest, type LlmEvent, type LlmProvider } from './llm.types.js';
import { DeltaText } from './delta-text.js';
import { OpenAiProvider } from './openai.provider.js';
import { ProviderThread } from './provider-thread.js';
import { ProviderWatchdog } from './watchdog.js';
import { estimateTokens } from './tokens.js';

export interface ModelInfo {
  id: string;
  provider: ProviderName;
  default: boolean;
}

// Waits before the 1st and 2nd extra attempt. The SDKs have already retried HTTP-level failures
// (429, 5xx) themselves; these cover failures inside a stream that has not produced text yet.
export const RETRY_DELAYS_MS = [250, 750];

@Injectable()
export class LlmService implements OnModuleInit, OnApplicationShutdown {
  private readonly providers = new Map<ProviderName, LlmProvider>();
  private readonly thread?: ProviderThread;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    const { anthropic, openai } = config;
    const anthropicSettings = anthropic.apiKey ? { apiKey: anthropic.apiKey, baseUrl: anthropic.baseUrl } : undefined;
    const openaiSettings = openai.apiKey || openai.baseUrl ? { apiKey: openai.apiKey, baseUrl: openai.baseUrl } : undefined;
    // The SDK clients on a thread of their own (see ProviderThread), started at boot.
    if (config.providerThread && (anthropicSettings || openaiSettings)) this.thread = new ProviderThread({ anthropic: anthropicSettings, openai: openaiSettings }, logger);
    if (anthropicSettings) this.providers.set('anthropic', this.thread?.provider('anthropic') ?? new AnthropicProvider(anthropicSettings, logger));
    if (openaiSettings) this.providers.set('openai', this.thread?.provider('openai') ?? new OpenAiProvider(openaiSettings, logger));
    this.providers.set('echo', new EchoProvider(config.echoDelayMs));
  }

  onModuleInit(): void {
    this.thread?.start();
  }

  // After the running generations have drained (beforeApplicationShutdown).
  async onApplicationShutdown(): Promise<void> {
    await this.thread?.close();
  }

  listModels(): ModelInfo[] {
    return this.config.models.map((m) => ({ id: m.id, provider: m.provider, default: m.id === this.config.defaultModel }));
  }

  // No id: the default model. An id that is not configured: UNKNOWN_MODEL.
  resolveModel(id?: string): ModelConfig {
    const wanted = id === undefined || id === '' ? this.config.defaultModel : id;
    const model = this.config.models.find((m) => m.id === wanted);
    if (!model) {
      const known = this.config.models.map((m) => m.id).join(', ');
      throw new AppException(ErrorCode.UNKNOWN_MODEL, `Unknown model "${wanted}"; available: ${known}`);
    }
    return model;
  }

  estimateTokens(text: string): number {
    return estimateTokens(text);
  }

  buildHistory(turns: ChatTurn[], budgetTokens: number): ChatTurn[] {
    return buildHistory(turns, budgetTokens);
  }

  // Deltas then one `done`. Throws AppException(UNKNOWN_MODEL), ProviderFailure, or an AbortError
  // when request.signal fires. A retryable failure is retried only while no text has been
  // yielded: after that, a retry would repeat text the caller has already sent on.
  async *stream(request: GenerateRequest): AsyncGenerator<LlmEvent> {
    const model = this.resolveModel(request.model);
    const provider = this.providers.get(model.provider);
    if (!provider) {
      throw new ProviderFailure(ErrorCode.PROVIDER_ERROR, `The provider of model "${model.id}" is not configured`, false);
    }
    const { signal } = request;
    await provider.ready?.(signal);
    const attemptRequest: GenerateRequest = { ...request, model: model.id, maxTokens: Math.min(request.maxTokens, model.maxOutputTokens) };
    for (let attempt = 0; ; attempt++) {
      let started = false;
      const watchdog = new ProviderWatchdog(signal, this.config.providerFirstByteTimeoutMs, this.config.providerIdleTimeoutMs);
      const text = new DeltaText();
      try {
        for await (const event of provider.stream({ ...attemptRequest, signal: watchdog.signal, onActivity: watchdog.activity })) {
          watchdog.activity();
          const out: LlmEvent[] = event.type === 'delta' ? [{ type: 'delta', text: text.push(event.text) }] : [{ type: 'delta', text: text.flush() }, event];
          for (const next of out) {
            if (next.type === 'delta' && next.text === '') continue;
            if (next.type === 'delta') started = true;
            // The time the caller takes with an event is not the provider's silence.
            watchdog.pause();
            yield next;
            watchdog.resume();
          }
        }
        return;
      } catch (error) {
        if (signal.aborted) throw abortError(signal);
        if (watchdog.expired) throw timeoutFailure(watchdog.expired, model, error);
        if (!(error instanceof ProviderFailure) || !error.retryable || error.retriedBySdk || started || attempt >= RETRY_DELAYS_MS.length) throw error;
        this.logger.warn(
          { model: model.id, attempt: attempt + 1, code: error.code, cause: causeMessage(error) },
          'model provider failed before the first token, retrying',
        );
        await sleep(RETRY_DELAYS_MS[attempt], signal);
      } finally {
        watchdog.dispose();
      }
    }
  }
}

// A provider that stopped answering is given up at once, not retried: the client has already
// waited the whole timeout, and may retry itself (the error is marked retryable).
function timeoutFailure(kind: 'first_byte' | 'idle', model: ModelConfig, cause: unknown): ProviderFailure {
  const message = kind === 'first_byte' ? 'The model provider did not start answering in time' : 'The model provider stopped answering';
  return new ProviderFailure(ErrorCode.PROVIDER_ERROR, message, true, { cause: Object.assign(new Error(`${model.id}: ${kind} timeout`), { cause }) });
}

function causeMessage(error: ProviderFailure): string | undefined {
  return error.cause instanceof Error ? error.cause.message : undefined;
}
