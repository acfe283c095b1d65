// The wire types, taken from the server's own declarations with type-only imports: nothing of the
// server reaches the compiled client, and a change on the server changes these types (the build
// bundles them into dist/client/index.d.ts). Where the client needs a runtime list or a mapping
// the server does not declare, a check below fails the type check if the two drift apart.
import type { ChatView, MessageView } from '../../src/chats/chat-view.js';
import type { ErrorCode } from '../../src/common/errors/error-code.js';
import type { ChatIdDto, ListChatsDto, ListMessagesDto, MessageIdDto, RenameChatDto } from '../../src/gateway/dto/socket-payloads.dto.js';
import type {
  AnswerEventMap,
  ClientToServerEvents as ServerSideClientEvents,
  ServerToClientEvents as ServerSideServerEvents,
} from '../../src/gateway/socket-events.js';
import type { RegenerateDto, SendMessageDto } from '../../src/messages/dto/stream-bodies.dto.js';
import type { ProjectIdDto } from '../../src/projects/dto/project.dto.js';
import type { ProjectView } from '../../src/projects/project-view.js';
import type { DocumentStatusEvent, DocumentView, ProjectUpdatedEvent } from '../../src/documents/document-view.js';
import type {
  AssistantComplete,
  AssistantDelta,
  AssistantError,
  AssistantRegenerating,
  AssistantTyping,
  GenerationEvent,
  GenerationEventMap,
  GenerationEventName,
  MessageSource,
  MessageSources,
  UsagePayload,
} from '../../src/messages/stream-events.js';
import type { UsageInfo } from '../../src/usage/usage-info.js';

export type {
  AnswerEventMap,
  AssistantComplete,
  AssistantDelta,
  AssistantError,
  AssistantRegenerating,
  AssistantTyping,
  ChatView,
  GenerationEventMap,
  GenerationEventName,
  MessageView,
  MessageSource,
  MessageSources,
  ProjectView,
  DocumentView,
  DocumentStatusEvent,
  ProjectUpdatedEvent,
  UsageInfo,
  UsagePayload,
};

// One frame of the send / regenerate / resume stream, discriminated by `event`:
// `switch (frame.event) { case 'assistant_delta': frame.data.delta … }`.
export type StreamFrame = GenerationEvent;
export type StreamFrameOf<E extends GenerationEventName> = Extract<StreamFrame, { event: E }>;

// The contract's error codes, plus the client's own for failures that never reached the server.
export type ServerErrorCode = `${ErrorCode}`;
export type ClientErrorCode = 'NETWORK_ERROR' | 'TIMEOUT' | 'PROTOCOL_ERROR';
// A newer server may answer with a code this build does not know: still a string.
export type ErrorCodeName = ServerErrorCode | ClientErrorCode | (string & {});

// Request bodies, from the DTOs the server validates them with.
export type SendMessageBody = Pick<SendMessageDto, keyof SendMessageDto>;
export type RegenerateBody = Pick<RegenerateDto, keyof RegenerateDto>;

// Fields with a server-side default are optional for a client.
type WithDefaults<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;
type Fields<T> = Pick<T, keyof T>;
type NoPayload = Record<string, never>;

// What each client→server event of /chats takes and what its acknowledgement brings.
export interface ChatsRequestMap {
  list_chats: { payload: Fields<WithDefaults<ListChatsDto, 'page' | 'limit'>>; answer: AnswerEventMap['chats_list'] };
  list_messages: { payload: Fields<WithDefaults<ListMessagesDto, 'page' | 'limit'>>; answer: AnswerEventMap['messages_list'] };
  usage_info: { payload: NoPayload; answer: AnswerEventMap['usage_info'] };
  rename_chat: { payload: Fields<RenameChatDto>; answer: AnswerEventMap['chat_updated'] };
  delete_chat: { payload: Fields<ChatIdDto>; answer: AnswerEventMap['chat_deleted'] };
  join_chat: { payload: Fields<ChatIdDto>; answer: AnswerEventMap['chat_joined'] };
  leave_chat: { payload: Fields<ChatIdDto>; answer: AnswerEventMap['chat_left'] };
  send_message: { payload: SendMessageBody; answer: { chat_id: string; message_id: string } };
  stop_message: { payload: Fields<MessageIdDto>; answer: AnswerEventMap['message_stopped'] };
  ping: { payload: NoPayload; answer: AnswerEventMap['pong'] };
  join_project: { payload: Fields<ProjectIdDto>; answer: AnswerEventMap['project_joined'] };
  leave_project: { payload: Fields<ProjectIdDto>; answer: AnswerEventMap['project_left'] };
}
export type ChatsRequestName = keyof ChatsRequestMap;

// A refused event's acknowledgement.
export interface RefusalAck {
  error: { code: ErrorCodeName; message: string; [detail: string]: unknown };
}

export type ClientToServerEvents = {
  [K in ChatsRequestName]: (payload: ChatsRequestMap[K]['payload'], ack?: (answer: ChatsRequestMap[K]['answer'] | RefusalAck) => void) => void;
};

// The named events of the server's map. Picking them (rather than taking the map whole) keeps this
// type the same whether or not the server's map also has an open signature for events pushed by
// other backends; the payload is the one of the event's own, first, signature.
type NamedKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: true };
type FirstPayload<F> = F extends { (payload: infer P): void; (payload: infer _Q): void } ? P : F extends (payload: infer P) => void ? P : never;
export type ServerToClientEvents = {
  [K in NamedKeys<ServerSideServerEvents>]: (payload: FirstPayload<ServerSideServerEvents[K]>) => void;
};
export type ServerEventName = keyof ServerToClientEvents;
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

// Drift checks: a client→server event added to (or removed from) the server's map must be added
// here too, and the stream's frames must be what the server's socket pushes.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type _DriftChecks = [
  Assert<Equal<ChatsRequestName, NamedKeys<ServerSideClientEvents>>>,
  Assert<Equal<ServerEventPayload<'assistant_delta'>, AssistantDelta>>,
  Assert<Equal<ServerEventPayload<'usage_info'>, UsageInfo>>,
];
