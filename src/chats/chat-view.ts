import type { ChatView } from '../common/events/domain-events.js';
import type { MessageEntity } from '../messages/message.entity.js';
import type { ChatEntity } from './chat.entity.js';

export type { ChatView };

export interface MessageView {
  id: string;
  role: string;
  content: string;
  status: string;
  model: string | null;
  usage: { input_tokens: number; output_tokens: number } | null;
  created_at: string;
  reply_to_id: string | null;
  replaces_id: string | null;
  error_code: string | null;
}

export function toChatView(chat: ChatEntity): ChatView {
  return {
    id: chat.id,
    title: chat.title,
    created_at: chat.createdAt.toISOString(),
    updated_at: chat.updatedAt.toISOString(),
    last_message_at: chat.lastMessageAt?.toISOString() ?? null,
  };
}

export function toMessageView(message: MessageEntity): MessageView {
  return {
    id: message.id,
    role: message.role,
    content: message.content,
    status: message.status,
    model: message.model,
    usage: message.inputTokens === null && message.outputTokens === null ? null : { input_tokens: message.inputTokens ?? 0, output_tokens: message.outputTokens ?? 0 },
    created_at: message.createdAt.toISOString(),
    reply_to_id: message.replyToId,
    replaces_id: message.replacesId,
    error_code: message.errorCode,
  };
}
