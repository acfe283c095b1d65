import type { MessageEntity } from '../../chats/message.entity.js';
import type { AppException } from '../../common/errors/app.exception.js';
import { toAssistantError } from '../../common/errors/assistant-error.js';
import { ErrorCode, isRetryable } from '../../common/errors/error-code.js';
import type { UsageInfo } from '../../usage/usage-info.js';
import type { AssistantComplete, AssistantError, GenerationEvent, GenerationEventMap, GenerationEventName } from '../stream-events.js';

export interface Completion {
  content: string;
  model: string;
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number };
  createdAt: Date;
}

// The one place that builds a generation's frames: the runner's live ones and the ones replayed
// from storage once the live log has gone.
export const frames = {
  event<K extends GenerationEventName>(messageId: string, seq: number, event: K, data: GenerationEventMap[K]): GenerationEvent {
    return { id: `${messageId}:${seq}`, event, data } as GenerationEvent;
  },

  complete(chatId: string, messageId: string, completion: Completion): AssistantComplete {
    return {
      chat_id: chatId,
      message_id: messageId,
      content: completion.content,
      model: completion.model,
      stop_reason: completion.stopReason,
      usage: { input_tokens: completion.usage.inputTokens, output_tokens: completion.usage.outputTokens },
      created_at: completion.createdAt.toISOString(),
    };
  },

  error(chatId: string, messageId: string, failure: AppException): AssistantError {
    return toAssistantError(failure, { chatId, messageId });
  },

  terminal(regenerated: boolean): 'assistant_complete' | 'assistant_regenerated' {
    return regenerated ? 'assistant_regenerated' : 'assistant_complete';
  },

  // A finished generation told again from the stored message: its opening, its text as one
  // delta, its end and the owner's usage. A client that had followed it live (afterSeq > 0)
  // holds part of the text in pieces that can no longer be told apart, so it gets the end only,
  // numbered after what it saw: assistant_complete carries the whole content.
  stored(message: MessageEntity, usage: UsageInfo | undefined, afterSeq: number): GenerationEvent[] {
    const out: GenerationEvent[] = [];
    let seq = afterSeq;
    const push = <K extends GenerationEventName>(event: K, data: GenerationEventMap[K]) => out.push(frames.event(message.id, ++seq, event, data));
    if (afterSeq === 0) {
      push('assistant_typing', { chat_id: message.chatId, user_message_id: message.replyToId ?? '', message_id: message.id, model: message.model ?? '' });
      if (message.sources?.length) push('message_sources', { chat_id: message.chatId, message_id: message.id, sources: message.sources });
      if (message.content) push('assistant_delta', { chat_id: message.chatId, message_id: message.id, delta: message.content });
    }
    if (message.status === 'complete' || message.status === 'superseded') {
      push(
        frames.terminal(message.replacesId !== null),
        frames.complete(message.chatId, message.id, {
          content: message.content,
          model: message.model ?? '',
          stopReason: message.stopReason ?? 'end_turn',
          usage: { inputTokens: message.inputTokens ?? 0, outputTokens: message.outputTokens ?? 0 },
          createdAt: message.updatedAt,
        }),
      );
    } else {
      // The code it was stored with (a stop by the user, a shutdown, a provider's failure).
      const code = (message.errorCode as ErrorCode | null) ?? (message.status === 'stopped' ? ErrorCode.STOPPED : ErrorCode.INTERNAL_ERROR);
      push('assistant_error', {
        chat_id: message.chatId,
        message_id: message.id,
        code,
        error: message.status === 'streaming' ? 'The generation is no longer running' : 'The generation did not complete',
        retryable: message.status !== 'streaming' && isRetryable(code),
      });
    }
    if (usage) push('usage_info', usage);
    return out;
  },
};
