import type { ChatView, MessageView } from '../chats/chat-view.js';
import type { GenerationEventMap } from '../messages/stream-events.js';
import type { UsageInfo } from '../usage/usage-info.js';
import type { Identity } from '../auth/identity.js';

// The /chats namespace's events, declared once. Every emit goes through these types.
export interface ChatsList {
  chats: ChatView[];
  page: number;
  limit: number;
  total: number;
}

export interface MessagesList {
  chat_id: string;
  messages: MessageView[];
  page: number;
  limit: number;
  total: number;
}

// Answers of client→server events, by the name of the answer event.
export interface AnswerEventMap {
  chats_list: ChatsList;
  messages_list: MessagesList;
  usage_info: UsageInfo;
  chat_updated: { chat: ChatView };
  chat_deleted: { chat_id: string };
  chat_joined: { chat_id: string };
  chat_left: { chat_id: string };
  message_stopped: { message_id: string; status: string };
  pong: { timestamp: string };
}

// A payload (optional) and an acknowledgement (optional), validated by the gateway.
type Handler = (...args: unknown[]) => void;

export interface ClientToServerEvents {
  list_chats: Handler;
  list_messages: Handler;
  usage_info: Handler;
  rename_chat: Handler;
  delete_chat: Handler;
  join_chat: Handler;
  leave_chat: Handler;
  send_message: Handler;
  stop_message: Handler;
  ping: Handler;
}

type Emitters<M> = { [K in keyof M]: (payload: M[K]) => void };

export type ServerToClientEvents = Emitters<
  AnswerEventMap &
    GenerationEventMap & {
      chat_created: { chat: ChatView };
      error: { event: string; code: string; message: string };
    }
> & {
  // Events pushed by other backends through POST /internal/emit.
  [custom: string]: (payload: unknown) => void;
};

export interface SocketData {
  identity: Identity;
  ownerRoom: string;
}

export const ownerRoom = (ownerKey: string) => `owner:${ownerKey}`;
export const chatRoom = (chatId: string) => `chat:${chatId}`;
