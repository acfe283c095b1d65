import Anthropic, { AnthropicError, APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import { abortError } from './abort.js';
import { ProviderFailure, type GenerateRequest, type LlmEvent, type LlmProvider } from './llm.types.js';
import { sdkLogger } from './sdk-logger.js';

export interface ProviderClientOptions {
  // Retries the SDK makes itself, before a stream has started (429, 5xx, connection errors).
  maxRetries?: number;
  // Until the response headers arrive; a stream may then run for as long as the model writes.
  timeoutMs?: number;
}

export const DEFAULT_SDK_MAX_RETRIES = 2;
export const DEFAULT_SDK_TIMEOUT_MS = 60_000;

type Usage = { input_tokens: number | null; cache_creation_input_tokens: number | null; cache_read_input_tokens: number | null };

export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic' as const;
  private readonly client: Anthropic;

  constructor(settings: { apiKey: string; baseUrl?: string }, logger: AppLogger, options: ProviderClientOptions = {}) {
    this.client = new Anthropic({
      apiKey: settings.apiKey,
      // SDK 1.12.0 sends an API key as "Authorization: Bearer"; the Messages API authenticates
      // API keys with the x-api-key header, so send that and drop the Bearer one.
      defaultHeaders: { 'x-api-key': settings.apiKey, authorization: null },
      // Explicit values, so that nothing is picked up from the process environment.
      authToken: null,
      baseURL: settings.baseUrl ?? 'https://api.anthropic.com',
      maxRetries: options.maxRetries ?? DEFAULT_SDK_MAX_RETRIES,
      timeout: options.timeoutMs ?? DEFAULT_SDK_TIMEOUT_MS,
      logLevel: 'warn',
      logger: sdkLogger(logger.child({ provider: 'anthropic' })),
    });
  }

  async *stream(request: GenerateRequest): AsyncGenerator<LlmEvent> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    let inputTokens = 0;
    let outputTokens = 0;
    let stopReason: string | null = null;
    let complete = false;
    try {
      // The signal is linked to the SDK's own controller: aborting it tears down the HTTP request.
      const events = await this.client.messages.create(
        {
          model: request.model,
          max_tokens: request.maxTokens,
          messages: request.messages.map((turn) => ({ role: turn.role, content: turn.content })),
          ...(request.system ? { system: request.system } : {}),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          stream: true,
        },
        { signal },
      );
      for await (const event of events) {
        request.onActivity?.();
        switch (event.type) {
          case 'message_start':
            inputTokens = totalInput(event.message.usage) ?? 0;
            outputTokens = event.message.usage.output_tokens;
            break;
          case 'content_block_delta':
            // Thinking, tool-input and citation deltas are not part of the answer text.
            if (event.delta.type === 'text_delta' && event.delta.text) yield { type: 'delta', text: event.delta.text };
            break;
          case 'message_delta':
            stopReason = event.delta.stop_reason ?? stopReason;
            // Usage in message_delta is cumulative.
            inputTokens = totalInput(event.usage) ?? inputTokens;
            outputTokens = event.usage.output_tokens;
            break;
          case 'message_stop':
            complete = true;
            break;
          default:
            // content_block_start/stop and event types added after this was written.
            break;
        }
      }
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      throw anthropicFailure(error);
    }
    // The SDK ends the iteration quietly when the request is aborted.
    if (signal.aborted) throw abortError(signal);
    if (!complete) {
      throw new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider ended the stream early', true);
    }
    yield { type: 'done', stopReason: stopReason ?? 'end_turn', usage: { inputTokens, outputTokens } };
  }
}

function totalInput(usage: Usage): number | undefined {
  if (usage.input_tokens == null) return undefined;
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

// Messages here may reach a client, so they name the situation, never the upstream's text; the
// SDK error stays attached as the cause for the log.
export function anthropicFailure(error: unknown): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  if (error instanceof APIError && !(error instanceof APIConnectionError)) {
    const { status, type } = error;
    if (status === 429 || status === 529 || type === 'overloaded_error' || type === 'rate_limit_error') {
      return new ProviderFailure(ErrorCode.PROVIDER_OVERLOADED, 'The model provider is overloaded, try again shortly', true, { cause: error, retriedBySdk: status !== undefined });
    }
    if (status === undefined) {
      // An `event: error` inside the stream.
      const retryable = type === null || type === 'api_error' || type === 'timeout_error';
      return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider failed during generation', retryable, { cause: error });
    }
    return new ProviderFailure(ErrorCode.PROVIDER_ERROR, `The model provider answered with HTTP ${status}`, status >= 500 || status === 408, {
      cause: error,
      retriedBySdk: true,
    });
  }
  if (error instanceof AnthropicError || error instanceof TypeError || error instanceof SyntaxError) {
    // Connection refused or timed out, a connection dropped mid-stream ("terminated"), a garbled stream.
    return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The connection to the model provider failed', true, { cause: error });
  }
  return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider failed', false, { cause: error });
}
