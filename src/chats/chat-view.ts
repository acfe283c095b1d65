import type { MessageSource, UsagePayload } from '../messages/stream-events.js';
import type { MessageEntity, MessageRole, MessageStatus } from './message.entity.js';
import type { ChatEntity } from './chat.entity.js';

// How chats and messages look on the wire (socket answers and pushes). Classes, so that the
// AsyncAPI description is generated from them.
export class ChatView {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  last_message_at: string | null;
  // The project whose documents its answers search, when it has one.
  project_id?: string | null;
}

export class MessageView {
  id: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  usage: UsagePayload | null;
  created_at: string;
  reply_to_id: string | null;
  replaces_id: string | null;
  error_code: string | null;
  // The passages an answer was given, in citation order ([1] first); [] for none.
  sources: MessageSource[];
}

export function toChatView(chat: Pick<ChatEntity, 'id' | 'title' | 'createdAt' | 'updatedAt' | 'lastMessageAt'> & { projectId?: string | null }): ChatView {
  return {
    id: chat.id,
    title: chat.title,
    created_at: chat.createdAt.toISOString(),
    updated_at: chat.updatedAt.toISOString(),
    last_message_at: chat.lastMessageAt?.toISOString() ?? null,
    ...(chat.projectId !== undefined ? { project_id: chat.projectId } : {}),
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
    sources: message.sources ?? [],
  };
}
