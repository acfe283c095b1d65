import { ChatView, MessageView } from '../chats/chat-view.js';
import type { ErrorCode } from '../common/errors/error-code.js';
import type { Identity } from '../common/identity.js';
import { DocumentStatusEvent, ProjectUpdatedEvent } from '../documents/document-view.js';
import { SendMessageDto } from '../messages/dto/stream-bodies.dto.js';
import { GENERATION_EVENTS } from '../messages/stream-events.js';
import { ProjectIdDto } from '../projects/dto/project.dto.js';
import { UsageInfo } from '../usage/usage-info.js';
import { ChatIdDto, ListChatsDto, ListMessagesDto, MessageIdDto, RenameChatDto } from './dto/socket-payloads.dto.js';

// The /chats namespace's events, declared once. Every emit goes through these types; the one
// deliberate exception is POST /internal/emit, which forwards other backends' events as given.
// Each map has a run-time form (event name → payload class) that its type is derived from and
// that the AsyncAPI description (/asyncapi.json) is generated from, so neither can drift.
export class ChatsList {
  chats: ChatView[];
  page: number;
  limit: number;
  total: number;
}

export class MessagesList {
  chat_id: string;
  messages: MessageView[];
  page: number;
  limit: number;
  total: number;
}

export class SocketError {
  code: `${ErrorCode}`;
  message: string;
  [detail: string]: unknown;
}

// What an acknowledgement receives when the event was refused.
export class SocketRefusal {
  error: SocketError;
}

// The `error` event: a refused client event, named.
export class SocketErrorEvent {
  event: string;
  code: `${ErrorCode}`;
  message: string;
  [detail: string]: unknown;
}

export class ChatEnvelope {
  chat: ChatView;
}

export class ChatRef {
  chat_id: string;
}

export class MessageStopped {
  message_id: string;
  status: string;
}

export class Pong {
  timestamp: string;
}

export class SendMessageAck {
  chat_id: string;
  message_id: string;
}

export class ProjectRef {
  project_id: string;
}

// usage_info and ping take nothing.
export class EmptyPayload {}

type Class<T = unknown> = abstract new (...args: never[]) => T;
type PayloadMap<M extends Record<string, Class>> = { [K in keyof M]: InstanceType<M[K]> };

// Answers of client→server events, by the name of the answer event.
export const ANSWER_EVENTS = {
  chats_list: ChatsList,
  messages_list: MessagesList,
  usage_info: UsageInfo,
  chat_updated: ChatEnvelope,
  chat_deleted: ChatRef,
  chat_joined: ChatRef,
  chat_left: ChatRef,
  message_stopped: MessageStopped,
  pong: Pong,
  project_joined: ProjectRef,
  project_left: ProjectRef,
} as const;

export type AnswerEventMap = PayloadMap<typeof ANSWER_EVENTS>;

// Client→server events: the class each payload is validated with, what its acknowledgement
// receives, and the answer event emitted to the socket besides (null: none, or it reaches the
// socket another way: send_message answers with the stream's events, rename_chat and
// delete_chat with the owner's chat_updated / chat_deleted).
export const REQUEST_EVENTS = {
  list_chats: { payload: ListChatsDto, answer: ChatsList, emits: 'chats_list' },
  list_messages: { payload: ListMessagesDto, answer: MessagesList, emits: 'messages_list' },
  usage_info: { payload: EmptyPayload, answer: UsageInfo, emits: 'usage_info' },
  rename_chat: { payload: RenameChatDto, answer: ChatEnvelope, emits: 'chat_updated' },
  delete_chat: { payload: ChatIdDto, answer: ChatRef, emits: 'chat_deleted' },
  join_chat: { payload: ChatIdDto, answer: ChatRef, emits: 'chat_joined' },
  leave_chat: { payload: ChatIdDto, answer: ChatRef, emits: 'chat_left' },
  send_message: { payload: SendMessageDto, answer: SendMessageAck, emits: null },
  stop_message: { payload: MessageIdDto, answer: MessageStopped, emits: 'message_stopped' },
  ping: { payload: EmptyPayload, answer: Pong, emits: 'pong' },
  // The project's room: project_updated and document_status of its documents. Owner only.
  join_project: { payload: ProjectIdDto, answer: ProjectRef, emits: 'project_joined' },
  leave_project: { payload: ProjectIdDto, answer: ProjectRef, emits: 'project_left' },
} as const satisfies Record<string, { payload: Class; answer: Class; emits: keyof typeof ANSWER_EVENTS | null }>;

type RequestEvents = typeof REQUEST_EVENTS;

export type RequestEventMap = {
  [K in keyof RequestEvents]: {
    payload: keyof InstanceType<RequestEvents[K]['payload']> extends never ? Record<string, never> : InstanceType<RequestEvents[K]['payload']>;
    answer: InstanceType<RequestEvents[K]['answer']>;
  };
};

export type RequestEventName = keyof RequestEventMap;

// What an acknowledgement receives: the answer, or the refusal.
export type Ack<T> = (answer: T | SocketRefusal) => void;

export type ClientToServerEvents = {
  [K in RequestEventName]: (payload: RequestEventMap[K]['payload'], ack?: Ack<RequestEventMap[K]['answer']>) => void;
};

// Everything the server emits to a socket: the answers, the generation events, and these.
export const OTHER_PUSH_EVENTS = {
  chat_created: ChatEnvelope,
  document_status: DocumentStatusEvent,
  project_updated: ProjectUpdatedEvent,
  error: SocketErrorEvent,
} as const;

export const PUSH_EVENTS = { ...ANSWER_EVENTS, ...GENERATION_EVENTS, ...OTHER_PUSH_EVENTS } as const;

export type PushEventMap = PayloadMap<typeof PUSH_EVENTS>;

type Emitters<M> = { [K in keyof M]: (payload: M[K]) => void };

export type ServerToClientEvents = Emitters<PushEventMap>;

export interface SocketData {
  identity: Identity;
  ownerRoom: string;
  // When the handshake's token expires (ms since the epoch): the socket is let go then.
  expiresAt?: number;
}

export const ownerRoom = (ownerKey: string) => `owner:${ownerKey}`;
export const chatRoom = (chatId: string) => `chat:${chatId}`;
export const projectRoom = (projectId: string) => `project:${projectId}`;
