import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { IncomingMessage } from 'node:http';
import type { Namespace, Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';
import type { RedisClient } from '../redis/redis.service.js';

// Socket.IO server options that Nest's decorator cannot take from configuration: allowed
// origins (enforced in allowRequest: the `cors` option alone blocks nothing for non-browser
// clients), a bounded payload size, connection state recovery, and the Redis Streams adapter.
export class AppSocketIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly redisClient?: RedisClient,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const origins = this.config.corsOrigins;
    const prefix = this.config.redisKeyPrefix;
    const server = super.createIOServer(port, {
      ...(options as ServerOptions),
      serveClient: true,
      path: '/socket.io',
      // The same bound as an HTTP body: a send_message carries the same content.
      maxHttpBufferSize: this.config.maxContentChars * 4 + 16_384,
      cors: { origin: origins === '*' ? true : origins, credentials: false },
      allowRequest: (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
        const origin = req.headers.origin;
        const allowed = origins === '*' || origin === undefined || origins.includes(origin);
        callback(allowed ? null : 'Origin not allowed', allowed);
      },
      connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
      // Every key and channel under REDIS_KEY_PREFIX, so deployments sharing a Redis never mix.
      ...(this.redisClient
        ? {
            adapter: createAdapter(this.redisClient, {
              streamName: `${prefix}socket.io`,
              channelPrefix: `${prefix}socket.io`,
              sessionKeyPrefix: `${prefix}sio:session:`,
              // How long the stream reader blocks; also how long a shutdown waits for it.
              blockTimeInMs: 1000,
            }),
          }
        : {}),
    } satisfies Partial<ServerOptions>) as Server;
    server.adapter(deferMissedPackets(server.adapter() as AdapterConstructor));
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    if (this.redisClient?.isOpen) await this.redisClient.close().catch(() => undefined);
  }
}

type AdapterConstructor = ServerOptions['adapter'];
type NamespaceAdapter = Namespace['adapter'];
type Session = Awaited<ReturnType<NamespaceAdapter['restoreSession']>>;

const MISSED = Symbol('missedPackets');
const KEEP_MISSED_MS = 30_000;

interface WithMissed {
  [MISSED]?: Map<string, unknown[][]>;
}

// Socket.IO writes a recovered session's missed packets to the connection before the namespace
// middleware runs, so a client whose credentials are no longer valid would still receive them
// before its connect_error. This adapter wrapper holds them back; the gateway hands them over
// with takeMissedPackets() once the middleware has accepted the socket.
function deferMissedPackets(Base: AdapterConstructor): AdapterConstructor {
  const Wrapped = function (nsp: Namespace): NamespaceAdapter {
    const adapter = new (Base as unknown as new (nsp: Namespace) => NamespaceAdapter)(nsp);
    const held = new Map<string, unknown[][]>();
    (adapter as WithMissed)[MISSED] = held;
    const restore = adapter.restoreSession.bind(adapter);
    adapter.restoreSession = async (pid, offset) => {
      const session: Session = await restore(pid, offset);
      if (session && session.missedPackets.length > 0) {
        held.set(session.sid, session.missedPackets);
        setTimeout(() => held.delete(session.sid), KEEP_MISSED_MS).unref();
        session.missedPackets = [];
      }
      return session;
    };
    return adapter;
  };
  return Wrapped as unknown as AdapterConstructor;
}

// The packets a recovered socket missed while it was away (each an event's arguments list,
// the event name first), removed from the holding area.
export function takeMissedPackets(nsp: Namespace, socketId: string): unknown[][] {
  const held = (nsp.adapter as WithMissed)[MISSED];
  const packets = held?.get(socketId) ?? [];
  held?.delete(socketId);
  return packets;
}
