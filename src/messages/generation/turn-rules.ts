import { createHash } from 'node:crypto';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { ModelConfig } from '../../config/app-config.js';
import { buildHistory } from '../../llm/history.js';
import type { ChatTurn } from '../../llm/llm.types.js';

// Rules that send and regenerate share, kept apart from I/O.

export function maxTokensFor(model: ModelConfig, requested: number | undefined, defaultMaxTokens: number): number {
  if (requested !== undefined && requested > model.maxOutputTokens) {
    throw new AppException(ErrorCode.VALIDATION_ERROR, `max_tokens must be at most ${model.maxOutputTokens} for ${model.id}`);
  }
  return requested ?? Math.min(defaultMaxTokens, model.maxOutputTokens);
}

// What makes two sends with one client_message_id the same request.
export function hashRequest(request: { chatId?: string; model?: string; content: string; temperature?: number; maxTokens?: number; projectId?: string }): string {
  // A project only when given, so that the hashes of requests without one stay what they were.
  const canonical = JSON.stringify([request.chatId ?? null, request.model ?? null, request.content, request.temperature ?? null, request.maxTokens ?? null, ...(request.projectId ? [request.projectId] : [])]);
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

// The stored conversation as the model takes it: consecutive turns of one role (an unanswered
// message) joined, since providers want turns to alternate, then fitted to the token budget.
export function historyFrom(stored: ChatTurn[], budgetTokens: number): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const m of stored) {
    const last = turns.at(-1);
    if (last && last.role === m.role) last.content += `\n\n${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  return buildHistory(turns, budgetTokens);
}

// The quota refuses first (a retry would not help); then the running answers are counted.
export function concurrencyLimit(max: number): AppException {
  return new AppException(ErrorCode.CONCURRENCY_LIMIT, `At most ${max} answers can be generated at once; wait for one to finish`, { retry_after_ms: 1000 });
}
