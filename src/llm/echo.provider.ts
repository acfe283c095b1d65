import { abortError, sleep } from './abort.js';
import type { GenerateRequest, LlmEvent, LlmProvider } from './llm.types.js';
import { estimateTokens } from './tokens.js';

const EMPTY_REPLY = 'You sent an empty message, so there is nothing to echo.';

// The built-in model: streams the last user message back, word by word, at a steady pace.
export class EchoProvider implements LlmProvider {
  readonly name = 'echo' as const;

  constructor(private readonly delayMs: number) {}

  async *stream(request: GenerateRequest): AsyncGenerator<LlmEvent> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    const lastUser = request.messages.findLast((turn) => turn.role === 'user')?.content ?? '';
    const text = lastUser.trim() === '' ? EMPTY_REPLY : lastUser;
    // ~4 characters per token, as estimateTokens counts them.
    const maxChars = Math.max(1, request.maxTokens) * 4;
    let produced = '';
    let stopReason = 'end_turn';
    for (const word of splitWords(text)) {
      await sleep(this.delayMs, signal);
      let piece = word;
      if (produced.length + piece.length > maxChars) {
        piece = cut(piece, maxChars - produced.length);
        stopReason = 'max_tokens';
      }
      if (piece) {
        produced += piece;
        yield { type: 'delta', text: piece };
      }
      if (stopReason === 'max_tokens') break;
    }
    if (signal.aborted) throw abortError(signal);
    const prompt = (request.system ?? '') + request.messages.map((turn) => turn.content).join('');
    yield { type: 'done', stopReason, usage: { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(produced) } };
  }
}

// Each word with the whitespace that follows it (leading whitespace stays with the first word),
// so the pieces join back to exactly the input.
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/gu) ?? [text];
}

// Cuts to at most `length` UTF-16 units without splitting a surrogate pair.
function cut(text: string, length: number): string {
  const piece = text.slice(0, Math.max(0, length));
  return /[\uD800-\uDBFF]$/.test(piece) ? piece.slice(0, -1) : piece;
}
