import OpenAI, { APIConnectionError, APIError, OpenAIError } from 'openai';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import { abortError } from './abort.js';
import { DEFAULT_SDK_MAX_RETRIES, DEFAULT_SDK_TIMEOUT_MS, type ProviderClientOptions } from './anthropic.provider.js';
import { ProviderFailure, type GenerateRequest, type LlmEvent, type LlmProvider } from './llm.types.js';
import { sdkLogger } from './sdk-logger.js';
import { estimateTokens } from './tokens.js';

// Local servers (Ollama, vLLM, llama.cpp) take no key, but the SDK refuses to start without one.
const PLACEHOLDER_KEY = 'no-key';

const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

// Any OpenAI-compatible chat completions server.
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai' as const;
  private readonly client: OpenAI;

  constructor(settings: { apiKey?: string; baseUrl?: string }, logger: AppLogger, options: ProviderClientOptions = {}) {
    this.client = new OpenAI({
      apiKey: settings.apiKey ?? PLACEHOLDER_KEY,
      // Explicit values, so that nothing is picked up from the process environment.
      organization: null,
      project: null,
      baseURL: settings.baseUrl ?? 'https://api.openai.com/v1',
      maxRetries: options.maxRetries ?? DEFAULT_SDK_MAX_RETRIES,
      timeout: options.timeoutMs ?? DEFAULT_SDK_TIMEOUT_MS,
      logLevel: 'warn',
      logger: sdkLogger(logger.child({ provider: 'openai' })),
    });
  }

  async *stream(request: GenerateRequest): AsyncGenerator<LlmEvent> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    let text = '';
    let finishReason: string | null = null;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    try {
      const chunks = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: [
            ...(request.system ? [{ role: 'system' as const, content: request.system }] : []),
            ...request.messages.map((turn) => ({ role: turn.role, content: turn.content })),
          ],
          // max_tokens, not max_completion_tokens: the one local servers understand.
          max_tokens: request.maxTokens,
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      for await (const chunk of chunks) {
        request.onActivity?.();
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        // Reasoning fields some servers add (reasoning_content) are not part of the answer.
        const content = choice.delta?.content;
        if (content) {
          text += content;
          yield { type: 'delta', text: content };
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      throw openAiFailure(error);
    }
    // The SDK ends the iteration quietly when the request is aborted.
    if (signal.aborted) throw abortError(signal);
    if (finishReason === null) {
      throw new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider ended the stream early', true);
    }
    // Servers that ignore include_usage: estimate, so that usage is never zero.
    const promptChars = (request.system ?? '') + request.messages.map((m) => m.content).join('');
    yield {
      type: 'done',
      stopReason: STOP_REASONS[finishReason] ?? finishReason,
      usage: {
        inputTokens: usage?.prompt_tokens ?? estimateTokens(promptChars),
        outputTokens: usage?.completion_tokens ?? estimateTokens(text),
      },
    };
  }
}

export function openAiFailure(error: unknown): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  if (error instanceof APIError && !(error instanceof APIConnectionError)) {
    const status = error.status;
    if (status === undefined) {
      // An error object inside the stream; servers differ in how they name it.
      const kind = `${String(error.code ?? '')} ${String(error.type ?? '')}`;
      if (/429|503|rate.?limit|overload|capacity/i.test(kind)) {
        return new ProviderFailure(ErrorCode.PROVIDER_OVERLOADED, 'The model provider is overloaded, try again shortly', true, { cause: error });
      }
      return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider failed during generation', true, { cause: error });
    }
    if (status === 429 || status === 503) {
      return new ProviderFailure(ErrorCode.PROVIDER_OVERLOADED, 'The model provider is overloaded, try again shortly', true, { cause: error, retriedBySdk: true });
    }
    return new ProviderFailure(ErrorCode.PROVIDER_ERROR, `The model provider answered with HTTP ${status}`, status >= 500 || status === 408, {
      cause: error,
      retriedBySdk: true,
    });
  }
  if (error instanceof OpenAIError || error instanceof TypeError || error instanceof SyntaxError) {
    return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The connection to the model provider failed', true, { cause: error });
  }
  return new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider failed', false, { cause: error });
}
