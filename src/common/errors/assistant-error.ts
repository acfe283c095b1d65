import type { AssistantError } from '../../messages/stream-events.js';
import { isRetryable } from './error-code.js';
import { normalizeError } from './to-app-exception.js';

// The one mapping from an error to an `assistant_error` payload, for every transport: the SSE
// stream (in a stream, or as the refusal frame of a streaming route), the socket rooms and the
// pushes to an identity. Fields a client may use (resets_at, credits_required) come along.
export function toAssistantError(error: unknown, ids: { chatId?: string; messageId?: string } = {}): AssistantError {
  const { exception } = normalizeError(error);
  return {
    ...exception.details,
    ...(ids.chatId ? { chat_id: ids.chatId } : {}),
    ...(ids.messageId ? { message_id: ids.messageId } : {}),
    code: exception.code,
    error: exception.message,
    retryable: exception.details.retryable === true || isRetryable(exception.code),
  };
}
