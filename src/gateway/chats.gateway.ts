import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import type { ClassConstructor } from 'class-transformer';
import type { Namespace, Socket } from 'socket.io';
import { ownerKey, type Identity } from '../auth/identity.js';
import { IdentityService } from '../auth/identity.service.js';
import { ChatsService } from '../chats/chats.service.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { normalizeError } from '../common/errors/to-app-exception.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { AppLogger } from '../common/logging/logger.js';
import { validateDto } from '../common/validation.js';
import type { AppConfig } from '../config/app-config.js';
import { HealthCounters } from '../health/health-counters.js';
import { SendMessageDto, sendCommandFrom } from '../messages/dto/send-message.dto.js';
import { GenerationService, type GenerationHandle } from '../messages/generation/generation.service.js';
import type { GenerationEvent } from '../messages/stream-events.js';
import { ClientAddress } from '../usage/client-address.js';
import { RateLimiter } from '../usage/rate-limiter.js';
import { UsageService } from '../usage/usage.service.js';
import { ChatIdDto, ListChatsDto, ListMessagesDto, MessageIdDto, RenameChatDto } from './dto/socket-payloads.dto.js';
import { takeMissedPackets } from './socket-io.adapter.js';
import { chatRoom, ownerRoom, type AnswerEventMap, type ClientToServerEvents, type ServerToClientEvents, type SocketData } from './socket-events.js';

type ChatsNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatsSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

// The Socket.IO transport for chat management and live sync. Handlers validate, call a service
// and deliver; the rules live in the services and the generation engine.
@WebSocketGateway({ namespace: '/chats' })
export class ChatsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  @WebSocketServer()
  private readonly nsp: ChatsNamespace;

  // Per socket id, the generations it started over send_message: message id → detach.
  private readonly socketGenerations = new Map<string, Map<string, () => void>>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  // Sockets that follow a generation they started themselves: room mirroring skips them.
  private readonly followers = new Map<string, Set<string>>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly identities: IdentityService,
    private readonly chats: ChatsService,
    private readonly engine: GenerationService,
    private readonly usage: UsageService,
    private readonly events: DomainEvents,
    private readonly health: HealthCounters,
    private readonly rateLimiter: RateLimiter,
  ) {}

  afterInit(nsp: ChatsNamespace): void {
    // Handshake authentication. Runs for new connections and for recovered ones alike
    // (connectionStateRecovery.skipMiddlewares is off), so a revoked identity is not restored.
    nsp.use((socket, next) => {
      try {
        const auth = (socket.handshake.auth ?? {}) as { token?: unknown; anon_id?: unknown };
        const token = typeof auth.token === 'string' ? auth.token : IdentityService.bearer(header(socket, 'authorization'));
        const anonId = typeof auth.anon_id === 'string' ? auth.anon_id : header(socket, 'x-anon-id');
        const { identity } = this.identities.resolve({ token, anonId }, { mint: false });
        // A recovered session that now belongs to someone else keeps none of its rooms or packets.
        const room = ownerRoom(ownerKey(identity));
        if (socket.recovered && socket.data.ownerRoom !== room) this.forgetSession(socket);
        socket.data.identity = identity;
        socket.data.ownerRoom = room;
        // Joined before the client sees `connect`: a push right after it cannot be missed.
        Promise.resolve(socket.join(room)).then(
          () => next(),
          (error: unknown) => next(error instanceof Error ? error : new Error(ErrorCode.INTERNAL_ERROR)),
        );
      } catch (error) {
        if (socket.recovered) this.forgetSession(socket);
        const { exception } = normalizeError(error);
        next(Object.assign(new Error(exception.code), { data: { code: exception.code, message: exception.message } }));
      }
    });

    this.unsubscribe.push(
      this.events.on('chat.created', ({ owner, chat }) => this.toOwner(owner).emit('chat_created', { chat })),
      this.events.on('chat.updated', ({ owner, chat }) => this.toOwner(owner).emit('chat_updated', { chat })),
      this.events.on('chat.deleted', ({ owner, chatId }) => {
        this.toOwner(owner).emit('chat_deleted', { chat_id: chatId });
        this.nsp.in(chatRoom(chatId)).socketsLeave(chatRoom(chatId));
      }),
      this.events.on('generation.event', ({ owner, chatId, event }) => this.mirror(owner, chatId, event)),
      this.events.on('quota.refused', ({ owner, error }) =>
        this.toOwner(owner).emit('assistant_error', { code: error.code, error: error.message, retryable: false, ...error.details }),
      ),
    );
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe) off();
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
  }

  // Nest does not await this: it must not throw.
  async handleConnection(socket: ChatsSocket): Promise<void> {
    const { identity } = socket.data;
    if (!identity) {
      socket.disconnect(true);
      return;
    }
    // Before anything else, in the same tick as the connection: events the client sends right
    // after `connect` find their handlers, and no live event overtakes a missed one.
    this.register(socket);
    clearTimeout(this.graceTimers.get(socket.id));
    this.graceTimers.delete(socket.id);
    if (socket.recovered) {
      for (const packet of takeMissedPackets(this.nsp, socket.id)) (socket.emit as (...args: unknown[]) => void)(...packet);
    }
    this.health.socketConnected(socket.data.ownerRoom);
    await this.pushUsage(identity, socket);
  }

  // The generations this socket started keep running for a grace period: a connection that is
  // recovered (same socket id, on any instance) finds them still streaming. After it, they are
  // released, which stops them unless keep_generating was asked for.
  handleDisconnect(socket: ChatsSocket): void {
    if (socket.data.identity) this.health.socketDisconnected(socket.data.ownerRoom);
    if (!this.socketGenerations.get(socket.id)?.size) return;
    const timer = setTimeout(() => void this.releaseIfGone(socket.id), this.config.socketGenerationGraceMs);
    timer.unref();
    this.graceTimers.set(socket.id, timer);
  }

  private async releaseIfGone(socketId: string): Promise<void> {
    this.graceTimers.delete(socketId);
    try {
      // fetchSockets asks every instance: the session may have been recovered elsewhere.
      if ((await this.nsp.in(socketId).fetchSockets()).length > 0) return;
    } catch (error) {
      this.logger.warn({ err: error, socket: socketId }, 'could not ask whether a socket came back; releasing its generations');
    }
    this.releaseGenerations(socketId);
  }

  private releaseGenerations(socketId: string): void {
    for (const detach of [...(this.socketGenerations.get(socketId)?.values() ?? [])]) detach();
    this.socketGenerations.delete(socketId);
  }

  // Pushes an event from another backend (POST /internal/emit) to sockets on any instance.
  emitTo(target: { userId?: string; anonId?: string; chatId?: string }, event: string, data: unknown): void {
    // Rooms are named with lower-case ids, as identities and chats are resolved.
    const room = target.userId
      ? ownerRoom(ownerKey({ kind: 'user', userId: target.userId.toLowerCase() }))
      : target.anonId
        ? ownerRoom(ownerKey({ kind: 'anonymous', anonId: target.anonId.toLowerCase() }))
        : chatRoom(target.chatId!.toLowerCase());
    this.nsp.to(room).emit(event, data);
  }

  private register(socket: ChatsSocket): void {
    const identity = socket.data.identity;
    this.on(socket, 'list_chats', 'chats_list', ListChatsDto, (p) => this.chats.list(identity, p.page, p.limit));
    this.on(socket, 'list_messages', 'messages_list', ListMessagesDto, (p) => this.chats.listMessages(identity, p.chat_id, p.page, p.limit));
    this.on(socket, 'usage_info', 'usage_info', null, () => this.usage.describe(identity, { ip: this.addressOf(socket) }));
    // chat_updated and chat_deleted reach this socket with the owner's other sockets (the domain
    // event), so they are only acked here: the socket sees each once.
    this.on(socket, 'rename_chat', null, RenameChatDto, (p) => this.chats.rename(identity, p.chat_id, p.title));
    this.on(socket, 'delete_chat', null, ChatIdDto, (p) => this.chats.delete(identity, p.chat_id));
    this.on(socket, 'join_chat', 'chat_joined', ChatIdDto, async (p) => {
      await this.chats.require(identity, p.chat_id);
      await socket.join(chatRoom(p.chat_id));
      return { chat_id: p.chat_id };
    });
    this.on(socket, 'leave_chat', 'chat_left', ChatIdDto, async (p) => {
      await socket.leave(chatRoom(p.chat_id));
      return { chat_id: p.chat_id };
    });
    this.on(socket, 'stop_message', 'message_stopped', MessageIdDto, (p) => this.engine.stop(identity, p.message_id));
    this.on(socket, 'ping', 'pong', null, async () => ({ timestamp: new Date().toISOString() }));

    // send_message answers with the stream's own events, emitted to this socket; the ack gets
    // the ids so the client can correlate.
    socket.on('send_message', (...args: unknown[]) => {
      const { payload, ack } = splitArgs(args);
      void this.guarded(socket, 'send_message', ack, async () => {
        const dto = validateDto(SendMessageDto, payload);
        let created: string | undefined;
        let handle: GenerationHandle;
        try {
          handle = await this.engine.send({
            ...sendCommandFrom(dto, identity, this.addressOf(socket)),
            // Registered before the first frame, so the room mirror never doubles this socket's frames.
            onCreated: ({ messageId }) => {
              created = messageId;
              this.addFollower(messageId, socket.id);
            },
          });
        } catch (error) {
          if (created) this.removeFollower(created, socket.id);
          throw error;
        }
        const messageId = handle.messageId;
        // A retry of an earlier client_message_id attaches without onCreated.
        this.addFollower(messageId, socket.id);
        const following: { unfollow?: () => void } = {};
        const done = () => {
          this.removeFollower(messageId, socket.id);
          this.socketGenerations.get(socket.id)?.delete(messageId);
        };
        // Leaving for good (see handleDisconnect) releases the generation, which stops it
        // unless keep_generating was asked for.
        const detach = () => {
          following.unfollow?.();
          done();
          handle.release();
        };
        this.socketGenerations.set(socket.id, (this.socketGenerations.get(socket.id) ?? new Map()).set(messageId, detach));
        // Through the socket's own room rather than socket.emit: room emits are kept for
        // connection state recovery, and a recovered socket keeps its id.
        const self = this.nsp.to(socket.id);
        try {
          following.unfollow = await handle.follow(0, { onEvent: (frame) => self.emit(frame.event, frame.data as never), onEnd: done });
        } catch (error) {
          detach();
          throw error;
        }
        ack?.({ chat_id: handle.chatId, message_id: messageId });
      });
    });
  }

  private addFollower(messageId: string, socketId: string): void {
    const set = this.followers.get(messageId) ?? new Set<string>();
    set.add(socketId);
    this.followers.set(messageId, set);
  }

  private removeFollower(messageId: string, socketId: string): void {
    const set = this.followers.get(messageId);
    set?.delete(socketId);
    if (set?.size === 0) this.followers.delete(messageId);
  }

  // The restored rooms and held packets of a recovered session that must not be restored.
  private forgetSession(socket: ChatsSocket): void {
    takeMissedPackets(this.nsp, socket.id);
    this.releaseGenerations(socket.id);
    for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
  }

  // Registers one client→server event: rate limit, validate, run, then ack and emit the answer
  // (answer null: the answer event reaches the socket another way).
  private on<P extends object, E extends keyof AnswerEventMap>(
    socket: ChatsSocket,
    event: Exclude<keyof ClientToServerEvents, 'send_message'>,
    answer: E | null,
    dto: ClassConstructor<P> | null,
    run: (payload: P) => Promise<AnswerEventMap[E]>,
  ): void {
    socket.on(event, (...args: unknown[]) => {
      const { payload, ack } = splitArgs(args);
      void this.guarded(socket, event, ack, async () => {
        const result = await run(dto ? validateDto(dto, payload) : ({} as P));
        ack?.(result);
        if (answer) (socket.emit as (name: E, data: AnswerEventMap[E]) => void)(answer, result);
      });
    });
  }

  // A failing handler answers {error} and an `error` event; it never drops the socket.
  private async guarded(socket: ChatsSocket, event: string, ack: ((answer: unknown) => void) | undefined, work: () => Promise<void>): Promise<void> {
    try {
      await this.rateLimiter.checkSocketEvent(socket.data.identity, this.addressOf(socket));
      await work();
    } catch (error) {
      const { exception, unexpected } = normalizeError(error);
      if (unexpected) this.logger.error({ err: error, event, socket: socket.id }, 'socket handler failed');
      const body = { code: exception.code, message: exception.message, ...exception.details };
      try {
        ack?.({ error: body });
        socket.emit('error', { event, ...body });
      } catch {
        // the socket went away meanwhile
      }
    }
  }

  // Generation events go to the sockets that joined the chat, except those already following it.
  // The closing usage_info goes to every socket of the owner instead (contract: after every
  // generation of that identity), again except the followers, whose stream carries it.
  private mirror(owner: Identity, chatId: string, event: GenerationEvent): void {
    const messageId = event.id.slice(0, event.id.lastIndexOf(':'));
    const skip = [...(this.followers.get(messageId) ?? [])];
    const room = event.event === 'usage_info' ? ownerRoom(ownerKey(owner)) : chatRoom(chatId);
    const target = skip.length > 0 ? this.nsp.to(room).except(skip) : this.nsp.to(room);
    target.emit(event.event, event.data as never);
  }

  private addressOf(socket: ChatsSocket): string | undefined {
    return ClientAddress.fromHandshake(socket.handshake, this.config.trustProxy);
  }

  private toOwner(owner: Identity) {
    return this.nsp.to(ownerRoom(ownerKey(owner)));
  }

  private async pushUsage(owner: Identity, socket: ChatsSocket): Promise<void> {
    try {
      socket.emit('usage_info', await this.usage.describe(owner, { ip: this.addressOf(socket) }));
    } catch (error) {
      this.logger.warn({ err: error }, 'could not push usage_info');
    }
  }
}

// The payload and the acknowledgement of a client event. A client that sends no payload
// (`socket.emit('ping', ack)`) passes its ack first.
function splitArgs(args: unknown[]): { payload: unknown; ack?: (answer: unknown) => void } {
  const last = args.at(-1);
  const ack = typeof last === 'function' ? (last as (answer: unknown) => void) : undefined;
  const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
  return { payload, ack };
}

function header(socket: Socket, name: string): string | undefined {
  const value = socket.handshake.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
