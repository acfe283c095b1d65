import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Namespace, Server, ServerOptions } from 'socket.io';
import { securityHeadersForSocketIo } from '../common/http/security-headers.js';
import type { AppConfig } from '../config/app-config.js';
import { RedisTimeoutError, withinMs, type RedisClient } from '../redis/redis.service.js';

// How long a dropped connection can come back with its rooms and missed packets.
export const RECOVERY_WINDOW_MS = 2 * 60_000;
const SOCKET_IO_PATH = '/socket.io';

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
      path: SOCKET_IO_PATH,
      // The transport's hard cap, past which socket.io drops the connection. The gateway answers
      // an event past MAX_SOCKET_PAYLOAD_BYTES with PAYLOAD_TOO_LARGE, so a client only meets
      // this cap with a payload four times larger than it was told is allowed.
      maxHttpBufferSize: transportCap(this.config.maxSocketPayloadBytes),
      cors: { origin: origins === '*' ? true : origins, credentials: false },
      allowRequest: (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
        const origin = req.headers.origin;
        const allowed = origins === '*' || origin === undefined || origins.includes(origin);
        callback(allowed ? null : 'Origin not allowed', allowed);
      },
      connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: false },
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
    server.adapter(deferMissedPackets(server.adapter() as AdapterConstructor, this.redisClient, this.config.redisCommandTimeoutMs));
    // After Socket.IO has attached (it takes over the server's request listeners), so it runs first.
    (this.httpServer as HttpServer).prependListener('request', securityHeadersForSocketIo(SOCKET_IO_PATH));
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    if (this.redisClient?.isOpen) await this.redisClient.close().catch(() => undefined);
  }
}

// Room above the per-event limit for the packet's framing and for payloads that are refused
// with an answer rather than with a dropped connection.
export const transportCap = (maxPayloadBytes: number) => maxPayloadBytes * 4 + 4096;

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
//
// With Redis, it also keeps local delivery prompt while Redis is away: the cluster adapter
// delivers a broadcast to this instance's sockets only once its publish has settled, which
// with Redis gone takes the command timeout, frame after frame. Here a publish that cannot
// happen (not connected) settles at once, one under way settles within REDIS_COMMAND_TIMEOUT_MS
// whatever the client does (a silent Redis answers nothing, not even an error), and deliveries
// keep the order they were sent in.
function deferMissedPackets(Base: AdapterConstructor, redisClient?: RedisClient, publishTimeoutMs = 2000): AdapterConstructor {
  const Wrapped = function (nsp: Namespace): NamespaceAdapter {
    const adapter = new (Base as unknown as new (nsp: Namespace) => NamespaceAdapter)(nsp);
    const cluster = adapter as unknown as { publishAndReturnOffset?: (message: unknown) => Promise<string> };
    const publish = cluster.publishAndReturnOffset?.bind(adapter);
    if (redisClient && publish) {
      let previous: Promise<unknown> = Promise.resolve();
      // After a publish that timed out, the next ones for as long again are not tried.
      let quietUntil = 0;
      const attempt = (message: unknown) =>
        withinMs(publish(message), publishTimeoutMs).catch((error: unknown) => {
          if (error instanceof RedisTimeoutError) quietUntil = Date.now() + publishTimeoutMs;
          return '';
        });
      cluster.publishAndReturnOffset = (message) => {
        const published = redisClient.isReady && Date.now() >= quietUntil ? attempt(message) : Promise.resolve('');
        const inOrder = Promise.all([published, previous]).then(([offset]) => offset);
        previous = inOrder;
        return inOrder;
      };
    }
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

// Drops, from the packets held for a recovered socket, those `unwanted` picks.
export function dropMissedPackets(nsp: Namespace, socketId: string, unwanted: (packet: unknown[]) => boolean): void {
  const held = (nsp.adapter as WithMissed)[MISSED];
  const packets = held?.get(socketId);
  if (packets) held!.set(socketId, packets.filter((packet) => !unwanted(packet)));
}
