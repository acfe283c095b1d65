import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions } from 'socket.io';
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
    const server = super.createIOServer(port, {
      ...(options as ServerOptions),
      serveClient: true,
      path: '/socket.io',
      maxHttpBufferSize: 1_000_000,
      cors: { origin: origins === '*' ? true : origins, credentials: false },
      allowRequest: (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
        const origin = req.headers.origin;
        callback(null, origins === '*' || origin === undefined || origins.includes(origin));
      },
      connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
      ...(this.redisClient ? { adapter: createAdapter(this.redisClient, { streamName: `${this.config.redisKeyPrefix}socket.io` }) } : {}),
    } satisfies Partial<ServerOptions>) as Server;
    return server;
  }
}
