import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';

// socket.io-client helpers for end-to-end tests: every event a socket receives is recorded from
// the moment it is created, so a test can await an event that may already have arrived, and
// can assert afterwards what a socket did (or did not) receive.
export interface Received {
  event: string;
  data: any;
}

export interface TestSocket {
  socket: Socket;
  // Every event received so far, in order (Socket.IO's reserved events excluded).
  received: Received[];
  // The index the next received event will get: pass it as `from` to wait for later events only.
  mark(): number;
  // The first event of this name (matching `where`) received at index >= from; waits if none yet.
  waitFor(event: string, options?: { from?: number; where?: (data: any) => boolean; timeoutMs?: number }): Promise<any>;
  // The events of this name received since `from`.
  all(event: string, from?: number): any[];
  // Emits with an acknowledgement and resolves with the ack's argument.
  ask(event: string, payload?: unknown, timeoutMs?: number): Promise<any>;
  close(): void;
}

export type ConnectOptions = Partial<ManagerOptions & SocketOptions>;

const open = new Set<Socket>();

// A socket on the /chats namespace, not yet connected (autoConnect off): call .connect().
export function chatsSocket(baseUrl: string, options: ConnectOptions = {}): TestSocket {
  const socket = io(`${baseUrl}/chats`, {
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: false,
    autoConnect: false,
    forceNew: true,
    ...options,
  });
  open.add(socket);
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  socket.onAny((event: string, data: unknown) => {
    received.push({ event, data });
    for (const wake of [...waiters]) wake();
  });

  const find = (event: string, from: number, where?: (data: any) => boolean) => {
    for (let i = from; i < received.length; i++) {
      const r = received[i];
      if (r.event === event && (!where || where(r.data))) return r;
    }
    return undefined;
  };

  return {
    socket,
    received,
    mark: () => received.length,
    waitFor(event, { from = 0, where, timeoutMs = 5000 } = {}) {
      const found = find(event, from, where);
      if (found) return Promise.resolve(found.data);
      return new Promise((resolve, reject) => {
        const wake = () => {
          const hit = find(event, from, where);
          if (!hit) return;
          cleanup();
          resolve(hit.data);
        };
        const timer = setTimeout(() => {
          cleanup();
          const seen = received.slice(from).map((r) => r.event).join(', ');
          reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"; received since ${from}: [${seen}]`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
      });
    },
    all: (event, from = 0) => received.slice(from).filter((r) => r.event === event).map((r) => r.data),
    ask: (event, payload, timeoutMs = 5000) =>
      payload === undefined ? socket.timeout(timeoutMs).emitWithAck(event) : socket.timeout(timeoutMs).emitWithAck(event, payload),
    close: () => {
      socket.disconnect();
      open.delete(socket);
    },
  };
}

// Connects and resolves once connected; rejects with the connect_error.
// The server pushes usage_info on every connection: waiting for it means no event of the
// connection itself arrives after the test has started counting.
export async function connectChats(baseUrl: string, options: ConnectOptions = {}): Promise<TestSocket> {
  const s = chatsSocket(baseUrl, options);
  await untilConnected(s.socket);
  await s.waitFor('usage_info');
  return s;
}

export function untilConnected(socket: Socket, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('timed out connecting')), timeoutMs);
    const onConnect = () => done();
    const onError = (error: Error) => done(error);
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      if (error) reject(error);
      else resolve();
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
    // connect() is a no-op while the manager is already reconnecting.
    if (socket.connected) done();
    else socket.connect();
  });
}

// Tries to connect and resolves with the connect_error (rejects if it connects).
export async function connectError(baseUrl: string, options: ConnectOptions = {}): Promise<Error & { data?: any }> {
  const s = chatsSocket(baseUrl, options);
  try {
    await untilConnected(s.socket);
  } catch (error) {
    return error as Error;
  } finally {
    s.close();
  }
  throw new Error('connected, but a connect_error was expected');
}

// Resolves on the socket's next disconnect with its reason.
export function untilDisconnected(socket: Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for disconnect')), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

// For afterAll: disconnects every socket these helpers opened.
export function closeAllSockets(): void {
  for (const socket of open) socket.disconnect();
  open.clear();
}
