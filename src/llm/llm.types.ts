import type { ErrorCode } from '../common/errors/error-code.js';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest {
  model: string;
  system?: string;
  // Oldest first, ending with the user turn to answer.
  messages: ChatTurn[];
  maxTokens: number;
  temperature?: number;
  // Aborting must close the upstream connection at once.
  signal: AbortSignal;
  // Called by a provider on every event of the upstream's stream, text or not (thinking, pings
  // the SDK surfaces): the idle timeout counts from the last one.
  onActivity?: () => void;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type LlmEvent =
  | { type: 'delta'; text: string }
  | { type: 'done'; stopReason: string; usage: TokenUsage };

// What a provider failure becomes: PROVIDER_OVERLOADED (retryable) or PROVIDER_ERROR.
export class ProviderFailure extends Error {
  constructor(
    readonly code: ErrorCode.PROVIDER_OVERLOADED | ErrorCode.PROVIDER_ERROR,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; retriedBySdk?: boolean },
  ) {
    super(message, { cause: options?.cause });
    this.name = 'ProviderFailure';
    this.retriedBySdk = options?.retriedBySdk ?? false;
  }

  // An HTTP-status failure (429, 529, 5xx) that the SDK has already retried on its own: retrying
  // it again would multiply the attempts.
  readonly retriedBySdk: boolean;
}

// One model provider. `stream` yields deltas then exactly one `done`, or throws ProviderFailure
// (or an AbortError when the signal fires).
export interface LlmProvider {
  readonly name: 'anthropic' | 'openai' | 'echo';
  stream(request: GenerateRequest): AsyncIterable<LlmEvent>;
  // Settles when the provider can send a request: the wait is not the upstream's silence.
  ready?(signal: AbortSignal): Promise<void>;
}
