import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import { ChatApiError, errorFromAck, isRefusalAck } from './errors.js';
import type { ChatsRequestMap, ChatsRequestName, ClientToServerEvents, ServerToClientEvents } from './types.js';

// The /chats namespace with socket.io-client, typed. socket.io-client itself is not imported
// (only its types): pass its `io` (from the package, or the `io` global that the server's
// /socket.io/socket.io.js sets), so that this module adds nothing to a bundle.

export type ChatsSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ChatsIdentity = { token: string } | { anon_id: string };
export type ChatsSocketOptions = Partial<ManagerOptions & SocketOptions>;
export type IoFactory = (uri: string, options?: ChatsSocketOptions) => Socket;

// A socket on /chats for this identity, connecting (as io() does). Listen for connect_error:
// its message is the refusal's code (UNAUTHORIZED, INVALID_ANON_ID, IDENTITY_REQUIRED).
export function connectChats(io: IoFactory, baseUrl: string, identity: ChatsIdentity, options: ChatsSocketOptions = {}): ChatsSocket {
  const socket = io(`${baseUrl.replace(/\/+$/, '')}/chats`, { path: '/socket.io', ...options, auth: identity });
  return socket as unknown as ChatsSocket;
}

// Resolves once connected. Rejects with the handshake's refusal (a ChatApiError whose code is the
// connect_error's message) or, after timeoutMs, with TIMEOUT; transport trouble is waited out,
// as socket.io-client retries it by itself.
export function whenConnected(socket: ChatsSocket, { timeoutMs = 10_000 } = {}): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new ChatApiError({ code: 'TIMEOUT', message: `Not connected after ${timeoutMs} ms`, retryable: true })), timeoutMs);
    const onConnect = () => done();
    const onError = (error: Error) => {
      if (socket.active) return; // a transport failure: it tries again
      done(new ChatApiError({ code: error.message, message: `The server refused the connection: ${error.message}`, cause: error }));
    };
    const done = (error?: ChatApiError) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      if (error) reject(error);
      else resolve();
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

// Emits a client→server event and resolves with its acknowledgement. A refusal ({error: {code,
// message}}) rejects with a ChatApiError of that code; no answer within timeoutMs, with TIMEOUT.
// The server also emits the named answer event (chats_list, …) to this socket.
export function request<E extends ChatsRequestName>(
  socket: ChatsSocket,
  event: E,
  payload: ChatsRequestMap[E]['payload'],
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<ChatsRequestMap[E]['answer']> {
  return new Promise((resolve, reject) => {
    // socket.io's typed emit cannot follow a generic event name: the map above is the typing.
    const timed = socket.timeout(timeoutMs) as unknown as { emit(event: string, payload: unknown, ack: (error: Error | null, answer: unknown) => void): void };
    timed.emit(event, payload, (error, answer) => {
      if (error) return reject(new ChatApiError({ code: 'TIMEOUT', message: `No answer to ${event} within ${timeoutMs} ms`, retryable: true, cause: error }));
      if (isRefusalAck(answer)) return reject(errorFromAck(answer));
      resolve(answer as ChatsRequestMap[E]['answer']);
    });
  });
}
