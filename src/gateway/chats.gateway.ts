import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import type { ClassConstructor } from 'class-transformer';
import type { Namespace, Socket } from 'socket.io';
import { ownerKey, type Identity } from '../auth/identity.js';
import { IdentityService } from '../auth/identity.service.js';
import { ChatsService } from '../chats/chats.service.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { normalizeError } from '../common/errors/to-app-exception.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { AppLogger } from '../common/logging/logger.js';
import { validateDto } from '../common/validation.js';
import type { AppConfig } from '../config/app-config.js';
import { HealthCounters } from '../health/health-counters.js';
import { SendMessageDto } from '../messages/dto/send-message.dto.js';
import { GenerationService } from '../messages/generation/generation.service.js';
import type { GenerationEvent } from '../messages/stream-events.js';
import { ClientAddress } from '../usage/client-address.js';
import { RateLimiter } from '../usage/rate-limiter.js';
import { UsageService } from '../usage/usage.service.js';
import { ChatIdDto, ListChatsDto, ListMessagesDto, MessageIdDto, RenameChatDto } from './dto/socket-payloads.dto.js';
import { chatRoom, ownerRoom, type AnswerEventMap, type ClientToServerEvents, type ServerToClientEvents, type SocketData } from './socket-events.js';

type ChatsNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatsSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

// The Socket.IO transport for chat management and live sync. Handlers validate, call a service
// and deliver; the rules live in the services and the generation engine.
@WebSocketGateway({ namespace: '/chats' })
export class ChatsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  @WebSocketServer()
  private readonly nsp: ChatsNamespace;

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
        socket.data.identity = identity;
        socket.data.ownerRoom = ownerRoom(ownerKey(identity));
        next();
      } catch (error) {
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
      this.events.on('generation.event', ({ chatId, event }) => this.mirror(chatId, event)),
      this.events.on('usage.changed', ({ owner }) => void this.pushUsage(owner)),
      this.events.on('quota.refused', ({ owner, error }) =>
        this.toOwner(owner).emit('assistant_error', { code: error.code, error: error.message, retryable: false, ...error.details }),
      ),
    );
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe) off();
  }

  async handleConnection(socket: ChatsSocket): Promise<void> {
    const { identity } = socket.data;
    if (!identity) {
      socket.disconnect(true);
      return;
    }
    this.health.socketConnected(socket.data.ownerRoom);
    await socket.join(socket.data.ownerRoom);
    this.register(socket);
    await this.pushUsage(identity, socket);
  }

  handleDisconnect(socket: ChatsSocket): void {
    if (socket.data.identity) this.health.socketDisconnected(socket.data.ownerRoom);
    for (const set of this.followers.values()) set.delete(socket.id);
  }

  // Pushes an event from another backend (POST /internal/emit) to sockets on any instance.
  emitTo(target: { userId?: string; anonId?: string; chatId?: string }, event: string, data: unknown): void {
    const room = target.userId
      ? ownerRoom(ownerKey({ kind: 'user', userId: target.userId }))
      : target.anonId
        ? ownerRoom(ownerKey({ kind: 'anonymous', anonId: target.anonId }))
        : chatRoom(target.chatId!);
    this.nsp.to(room).emit(event, data);
  }

  private register(socket: ChatsSocket): void {
    const identity = socket.data.identity;
    this.on(socket, 'list_chats', 'chats_list', ListChatsDto, (p) => this.chats.list(identity, p.page, p.limit));
    this.on(socket, 'list_messages', 'messages_list', ListMessagesDto, (p) => this.chats.listMessages(identity, p.chat_id, p.page, p.limit));
    this.on(socket, 'usage_info', 'usage_info', null, () => this.usage.describe(identity));
    this.on(socket, 'rename_chat', 'chat_updated', RenameChatDto, (p) => this.chats.rename(identity, p.chat_id, p.title));
    this.on(socket, 'delete_chat', 'chat_deleted', ChatIdDto, (p) => this.chats.delete(identity, p.chat_id));
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
    socket.on('send_message', (payload, ack) => {
      void this.guarded(socket, 'send_message', ack, async () => {
        const dto = validateDto(SendMessageDto, payload);
        const handle = await this.engine.send({
          identity,
          ip: this.addressOf(socket),
          chatId: dto.chat_id,
          model: dto.model,
          content: dto.content,
          temperature: dto.temperature,
          maxTokens: dto.max_tokens,
          clientMessageId: dto.client_message_id,
          // A socket generation is not tied to this connection: it survives a short drop.
          keepGenerating: true,
          // Registered before the first frame, so the room mirror never doubles this socket's frames.
          onCreated: ({ messageId }) => this.followers.set(messageId, (this.followers.get(messageId) ?? new Set()).add(socket.id)),
        });
        const followers = this.followers.get(handle.messageId) ?? new Set<string>();
        await handle.follow(0, {
          onEvent: (frame) => socket.emit(frame.event, frame.data as never),
          onEnd: () => {
            followers.delete(socket.id);
            if (followers.size === 0) this.followers.delete(handle.messageId);
          },
        });
        ack?.({ chat_id: handle.chatId, message_id: handle.messageId });
      });
    });
  }

  // Registers one client→server event: rate limit, validate, run, then ack and emit the answer.
  private on<P extends object, E extends keyof AnswerEventMap>(
    socket: ChatsSocket,
    event: Exclude<keyof ClientToServerEvents, 'send_message'>,
    answer: E,
    dto: ClassConstructor<P> | null,
    run: (payload: P) => Promise<AnswerEventMap[E]>,
  ): void {
    socket.on(event, (payload: unknown, ack?: (answer: unknown) => void) => {
      void this.guarded(socket, event, ack, async () => {
        const result = await run(dto ? validateDto(dto, payload) : ({} as P));
        ack?.(result);
        (socket.emit as (name: E, data: AnswerEventMap[E]) => void)(answer, result);
      });
    });
  }

  // A failing handler answers {error} and an `error` event; it never drops the socket.
  private async guarded(socket: ChatsSocket, event: string, ack: ((answer: unknown) => void) | undefined, work: () => Promise<void>): Promise<void> {
    try {
      if (typeof ack !== 'function') ack = undefined;
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
  private mirror(chatId: string, event: GenerationEvent): void {
    const messageId = event.id.slice(0, event.id.lastIndexOf(':'));
    const skip = [...(this.followers.get(messageId) ?? [])];
    const target = skip.length > 0 ? this.nsp.to(chatRoom(chatId)).except(skip) : this.nsp.to(chatRoom(chatId));
    target.emit(event.event, event.data as never);
  }

  private addressOf(socket: ChatsSocket): string | undefined {
    return ClientAddress.fromHandshake(socket.handshake, this.config.trustProxy);
  }

  private toOwner(owner: Identity) {
    return this.nsp.to(ownerRoom(ownerKey(owner)));
  }

  private async pushUsage(owner: Identity, socket?: ChatsSocket): Promise<void> {
    try {
      const info = await this.usage.describe(owner);
      if (socket) socket.emit('usage_info', info);
      else this.toOwner(owner).emit('usage_info', info);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not push usage_info');
    }
  }
}

function header(socket: Socket, name: string): string | undefined {
  const value = socket.handshake.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
