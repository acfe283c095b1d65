// The typed client of chat-backend, for browsers and bundlers (and Node 20+, which has fetch):
// the send stream over fetch with Last-Event-ID resume, and typed socket.io-client maps for /chats.
export { AnswerStream, GENERATION_EVENT_NAMES, parseEventId, regenerate, resume, sendMessage, stop, streamFrames } from './messages.js';
export type { HeadersInput, ReconnectInfo, ReconnectOptions, RequestOptions, SendOptions, StreamOptions } from './messages.js';
export { ChatApiError, errorFromResponse, parseRetryAfter } from './errors.js';
export type { ChatApiErrorInit } from './errors.js';
export { EventStreamParser, readEventStream } from './event-stream.js';
export type { EventStreamFrame } from './event-stream.js';
export { connectChats, request, whenConnected } from './chats-socket.js';
export { createProject, deleteDocument, listDocuments, listProjects, renameProject, uploadDocument } from './documents.js';
export type { UploadOptions } from './documents.js';
export type { ChatsIdentity, ChatsSocket, ChatsSocketOptions, IoFactory } from './chats-socket.js';
export type * from './types.js';
