import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import type { ClassConstructor } from 'class-transformer';
import type { BroadcastOperator, Namespace, Socket } from 'socket.io';
import { ownerKey, type Identity } from '../common/identity.js';
import { IdentityService } from '../auth/identity.service.js';
import { ChatsService } from '../chats/chats.service.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { normalizeError } from '../common/errors/to-app-exception.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { AppLogger } from '../common/logging/logger.js';
import { guardInput } from '../common/input-guard.js';
import { validateDto } from '../common/validation.js';
import type { AppConfig } from '../config/app-config.js';
import { HealthCounters } from '../health/health-counters.js';
import { SendMessageDto, sendCommandFrom } from '../messages/dto/send-message.dto.js';
import { SendMessage } from '../messages/generation/send-message.use-case.js';
import { StopGeneration } from '../messages/generation/stop-generation.use-case.js';
import { GENERATION_EVENTS, type GenerationEvent } from '../messages/stream-events.js';
import { ClientAddress } from '../usage/client-address.js';
import { RateLimiter } from '../usage/rate-limiter.js';
import { UsageService } from '../usage/usage.service.js';
import { ChatIdDto, ListChatsDto, ListMessagesDto, MessageIdDto, RenameChatDto } from './dto/socket-payloads.dto.js';
import { dropMissedPackets, RECOVERY_WINDOW_MS, takeMissedPackets } from './socket-io.adapter.js';
import { toAssistantError } from '../common/errors/assistant-error.js';
import { AppException } from '../common/errors/app.exception.js';
import { RedisService } from '../redis/redis.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import {
  chatRoom,
  ownerRoom,
  projectRoom,
  type AnswerEventMap,
  type ClientToServerEvents,
  type REQUEST_EVENTS,
  type RequestEventMap,
  type RequestEventName,
  type ServerToClientEvents,
  type SocketData,
} from './socket-events.js';

// The class a client event's payload is validated with, as REQUEST_EVENTS names it.
type RequestPayloadClass<K extends RequestEventName> = (typeof REQUEST_EVENTS)[K]['payload'];
import { ProjectIdDto } from '../projects/dto/project.dto.js';
import { ProjectsService } from '../projects/projects.service.js';

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
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  // The client→server events this namespace handles (every on() below): the rest are unknown.
  private readonly requestEvents = new Set<string>();
  // Sockets that follow a generation they started themselves: room mirroring skips them.
  private readonly followers = new Map<string, Set<string>>();
  private readonly unsubscribe: (() => void)[] = [];
  // Rooms of dropped connections that may still be recovered, until when: socket.io keeps what
  // is emitted to a room for them, so those rooms are emitted to even with nobody connected.
  private readonly recoverableRooms = new Map<string, number>();
  private readonly roomSweep = setInterval(() => {
    const now = Date.now();
    for (const [room, until] of this.recoverableRooms) if (until <= now) this.recoverableRooms.delete(room);
  }, RECOVERY_WINDOW_MS).unref();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly identities: IdentityService,
    private readonly chats: ChatsService,
    private readonly projects: ProjectsService,
    private readonly sendMessage: SendMessage,
    private readonly stopGeneration: StopGeneration,
    private readonly usage: UsageService,
    private readonly events: DomainEvents,
    private readonly health: HealthCounters,
    private readonly rateLimiter: RateLimiter,
    private readonly redis: RedisService,
    private readonly metrics: MetricsService,
  ) {}

  afterInit(nsp: ChatsNamespace): void {
    // Handshake authentication. Runs for new connections and for recovered ones alike
    // (connectionStateRecovery.skipMiddlewares is off), so a revoked identity is not restored.
    nsp.use(async (socket, next) => {
      try {
        // A flood of connections from one address is refused before any other work.
        await this.rateLimiter.checkSocketConnection(this.addressOf(socket));
        const auth = (socket.handshake.auth ?? {}) as { token?: unknown; anon_id?: unknown };
        const token = typeof auth.token === 'string' ? auth.token : IdentityService.bearer(header(socket, 'authorization'));
        const anonId = typeof auth.anon_id === 'string' ? auth.anon_id : header(socket, 'x-anon-id');
        const { identity, expiresAt } = this.identities.resolve({ token, anonId }, { mint: false });
        // A recovered session that now belongs to someone else keeps none of its rooms or packets.
        const room = ownerRoom(ownerKey(identity));
        if (socket.recovered && socket.data.ownerRoom !== room) this.forgetSession(socket);
        socket.data.identity = identity;
        socket.data.ownerRoom = room;
        socket.data.expiresAt = expiresAt;
        if (socket.recovered) await this.leaveLostRooms(socket, identity);
        // Joined before the client sees `connect`: a push right after it cannot be missed.
        Promise.resolve(socket.join(room)).then(
          () => next(),
          (error: unknown) => next(error instanceof Error ? error : new Error(ErrorCode.INTERNAL_ERROR)),
        );
      } catch (error) {
        if (socket.recovered) this.forgetSession(socket);
        const { exception } = normalizeError(error);
        this.metrics.refused(exception.code);
        this.logger.info({ event: 'connect', outcome: exception.code }, 'socket handshake refused');
        next(Object.assign(new Error(exception.code), { data: { code: exception.code, message: exception.message, ...exception.details } }));
      }
    });

    this.unsubscribe.push(
      this.events.on('chat.created', ({ owner, chat }) => this.toOwner(owner)?.emit('chat_created', { chat })),
      this.events.on('chat.updated', ({ owner, chat }) => this.toOwner(owner)?.emit('chat_updated', { chat })),
      this.events.on('chat.deleted', ({ owner, chatId }) => {
        this.toOwner(owner)?.emit('chat_deleted', { chat_id: chatId });
        this.nsp.in(chatRoom(chatId)).socketsLeave(chatRoom(chatId));
      }),
      this.events.on('generation.event', ({ owner, chatId, audience, event }) => this.deliver(owner, chatId, audience, event)),
      this.events.on('quota.refused', ({ owner, error }) => this.toOwner(owner)?.emit('assistant_error', toAssistantError(error))),
      // One broadcast to the owner's sockets and the project's room: a socket in both gets it once.
      this.events.on('document.status', ({ owner, status }) => {
        const rooms = [ownerRoom(ownerKey(owner)), ...(status.project_id ? [projectRoom(status.project_id)] : [])];
        this.toRooms(rooms)?.emit('document_status', status);
      }),
      this.events.on('project.updated', ({ update }) => this.toRooms([projectRoom(update.project_id)])?.emit('project_updated', update)),
      this.events.on('projects.moved', ({ from, projectIds }) => {
        // The visitor's sockets (the identity they connected with) no longer own those rooms.
        this.nsp.in(ownerRoom(ownerKey(from))).socketsLeave(projectIds.map(projectRoom));
      }),
    );
  }

  onModuleDestroy(): void {
    clearInterval(this.roomSweep);
    for (const off of this.unsubscribe) off();
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
  }

  // The events clients may send, as registered: what the fuzz suite throws payloads at.
  get handledEvents(): string[] {
    return [...this.requestEvents];
  }

  // A token honoured at the handshake is not honoured past its expiry: the socket is told
  // (`error` UNAUTHORIZED) and disconnected; a recovered session meets the handshake again.
  private expireWithToken(socket: ChatsSocket): void {
    const { expiresAt } = socket.data;
    if (expiresAt === undefined) return;
    const arm = () => {
      const wait = expiresAt - Date.now();
      if (wait > 0) {
        // setTimeout takes at most ~24.8 days: longer tokens re-arm.
        const timer = setTimeout(arm, Math.min(wait, 2 ** 31 - 1));
        timer.unref();
        this.expiryTimers.set(socket.id, timer);
        return;
      }
      this.expiryTimers.delete(socket.id);
      this.logger.info({ event: 'disconnect', socket: socket.id, outcome: ErrorCode.UNAUTHORIZED }, 'socket token expired');
      socket.emit('error', { event: 'session', code: ErrorCode.UNAUTHORIZED, message: 'The token has expired; connect again with a new one' });
      socket.disconnect(true);
    };
    arm();
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
    this.expireWithToken(socket);
    socket.on('disconnecting', () => {
      const until = Date.now() + RECOVERY_WINDOW_MS;
      for (const room of socket.rooms) this.recoverableRooms.set(room, until);
    });
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
    clearTimeout(this.expiryTimers.get(socket.id));
    this.expiryTimers.delete(socket.id);
    if (socket.data.identity) this.health.socketDisconnected(socket.data.ownerRoom);
    if (!this.socketGenerations.get(socket.id)?.size) return;
    this.awaitReturn(socket.id);
  }

  private awaitReturn(socketId: string): void {
    if (this.graceTimers.has(socketId)) return;
    const timer = setTimeout(() => void this.releaseIfGone(socketId), this.config.socketGenerationGraceMs);
    timer.unref();
    this.graceTimers.set(socketId, timer);
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
    // The one untyped emit: other backends name their own events.
    (this.nsp.to(room) as unknown as { emit(event: string, data: unknown): void }).emit(event, data);
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
    this.on(socket, 'join_project', 'project_joined', ProjectIdDto, async (p) => {
      await this.projects.require(identity, p.project_id);
      await socket.join(projectRoom(p.project_id));
      return { project_id: p.project_id };
    });
    this.on(socket, 'leave_project', 'project_left', ProjectIdDto, async (p) => {
      await socket.leave(projectRoom(p.project_id));
      return { project_id: p.project_id };
    });
    this.on(socket, 'stop_message', 'message_stopped', MessageIdDto, (p) => this.stopGeneration.execute(identity, p.message_id));
    this.on(socket, 'ping', 'pong', null, async () => ({ timestamp: new Date().toISOString() }));
    this.on(socket, 'send_message', null, SendMessageDto, (dto, receivedAt) => this.send(socket, dto, receivedAt));
    // Every event gets an answer: one this namespace does not have is refused, not left hanging.
    socket.onAny((event: string, ...args: unknown[]) => {
      if (this.requestEvents.has(event)) return;
      const { payload, ack } = splitArgs(args);
      void this.guarded(socket, event, ack, async () => {
        this.checkSize(payload);
        throw new AppException(ErrorCode.VALIDATION_ERROR, `Unknown event "${String(event).slice(0, 64)}"`);
      });
    });
  }

  // send_message answers with the stream's own events: a new generation's frames reach this
  // socket with its chat's room (the socket is its audience); a retry of an earlier
  // client_message_id follows that generation's log instead. The ack gets the ids.
  private async send(socket: ChatsSocket, dto: SendMessageDto, receivedAt: number): Promise<{ chat_id: string; message_id: string }> {
    const handle = await this.sendMessage.execute({ ...sendCommandFrom(dto, socket.data.identity, this.addressOf(socket)), socketId: socket.id, receivedAt });
    const messageId = handle.messageId;
    const following: { unfollow?: () => void } = {};
    const done = () => {
      this.removeFollower(messageId, socket.id);
      const mine = this.socketGenerations.get(socket.id);
      mine?.delete(messageId);
      if (mine?.size === 0) this.socketGenerations.delete(socket.id);
    };
    // Leaving for good (see handleDisconnect) releases the generation, which stops it unless
    // keep_generating was asked for.
    const detach = () => {
      following.unfollow?.();
      done();
      handle.release();
    };
    this.socketGenerations.set(socket.id, (this.socketGenerations.get(socket.id) ?? new Map()).set(messageId, detach));
    // Gone while its turn was being written: it gets the same grace as one that leaves later.
    if (socket.disconnected) this.awaitReturn(socket.id);
    if (handle.attached) {
      this.addFollower(messageId, socket.id);
      // Through the socket's own room rather than socket.emit: room emits are kept for
      // connection state recovery, and a recovered socket keeps its id.
      const self = this.nsp.to(socket.id);
      try {
        following.unfollow = await handle.follow(0, { onEvent: (frame) => emitFrame(self, frame), onEnd: done });
      } catch (error) {
        detach();
        throw error;
      }
    } else {
      void handle.done?.then(done);
    }
    return { chat_id: handle.chatId, message_id: messageId };
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

  // A recovered session's chat and project rooms are those it had when it dropped; since then a
  // chat or project may have moved (sign-up moves a visitor's to the account) or gone. Runs in
  // the handshake, before the socket can be reached by a broadcast and before its held packets
  // are handed over: the rooms its identity no longer owns are left, and the missed packets
  // that were sent to them are dropped.
  private async leaveLostRooms(socket: ChatsSocket, identity: Identity): Promise<void> {
    const chats: string[] = [];
    const projects: string[] = [];
    for (const room of socket.rooms) {
      if (room.startsWith(CHAT_ROOM)) chats.push(room.slice(CHAT_ROOM.length));
      else if (room.startsWith(PROJECT_ROOM)) projects.push(room.slice(PROJECT_ROOM.length));
    }
    if (chats.length === 0 && projects.length === 0) return;
    const [ownedChats, ownedProjects] = await Promise.all([this.chats.owned(identity, chats), this.projects.owned(identity, projects)]);
    const lostChats = without(chats, ownedChats);
    const lostProjects = without(projects, ownedProjects);
    if (lostChats.size === 0 && lostProjects.size === 0) return;
    await Promise.all([...[...lostChats].map(chatRoom), ...[...lostProjects].map(projectRoom)].map((room) => socket.leave(room)));
    dropMissedPackets(this.nsp, socket.id, (packet) => sentToLostRoom(packet, lostChats, lostProjects));
    this.logger.info({ event: 'connect', socket: socket.id, left_chats: lostChats.size, left_projects: lostProjects.size }, 'recovered socket left rooms it no longer owns');
  }

  // The restored rooms and held packets of a recovered session that must not be restored.
  private forgetSession(socket: ChatsSocket): void {
    takeMissedPackets(this.nsp, socket.id);
    this.releaseGenerations(socket.id);
    for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
  }

  // Registers one client→server event: rate limit, validate, run, then ack and emit the answer
  // (answer null: the answer event reaches the socket another way). The payload class and the
  // answer are the ones of REQUEST_EVENTS, which /asyncapi.json describes.
  private on<K extends RequestEventName, E extends keyof AnswerEventMap>(
    socket: ChatsSocket,
    event: K,
    answer: E | null,
    dto: RequestPayloadClass<K> | null,
    run: (payload: RequestEventMap[K]['payload'], receivedAt: number) => Promise<RequestEventMap[K]['answer']>,
  ): void {
    this.requestEvents.add(event);
    // Payloads are validated here, so the listener takes them as they come.
    (socket as unknown as Socket).on(event as string, (...args: unknown[]) => {
      const receivedAt = performance.now();
      const { payload, ack } = splitArgs(args);
      void this.guarded(socket, event, ack, async () => {
        // Size first, whatever the payload's shape: an oversized one is always PAYLOAD_TOO_LARGE.
        this.checkSize(payload);
        const valid = dto ? validateDto(dto as unknown as ClassConstructor<object>, payload, { guarded: true }) : {};
        const result = await run(valid as RequestEventMap[K]['payload'], receivedAt);
        ack?.(result);
        if (answer) (socket.emit as (name: E, data: AnswerEventMap[E]) => void)(answer, result as AnswerEventMap[E]);
      });
    });
  }

  // PAYLOAD_TOO_LARGE past MAX_SOCKET_PAYLOAD_BYTES, before the transport's own cap (which
  // would drop the connection instead of answering).
  private checkSize(payload: unknown): void {
    guardInput(payload ?? null, { maxBytes: this.config.maxSocketPayloadBytes });
  }

  // A failing handler answers {error} and an `error` event; it never drops the socket.
  // Each event leaves one log line: at debug when it succeeded, at info when it was refused.
  private async guarded(socket: ChatsSocket, event: string, ack: ((answer: unknown) => void) | undefined, work: () => Promise<void>): Promise<void> {
    const started = performance.now();
    const line = { event, identity: socket.data.identity.kind, socket: socket.id };
    try {
      // Between the expiry and its timer, events are refused as the disconnect would.
      if (socket.data.expiresAt !== undefined && Date.now() >= socket.data.expiresAt) throw new AppException(ErrorCode.UNAUTHORIZED, 'The token has expired');
      await this.rateLimiter.checkSocketEvent(socket.data.identity, this.addressOf(socket));
      await work();
      this.logger.debug({ ...line, outcome: 'ok', ms: elapsed(started) }, 'socket event');
    } catch (error) {
      const { exception, unexpected } = normalizeError(error);
      if (unexpected) this.logger.error({ err: error, ...line }, 'socket handler failed');
      else this.logger.info({ ...line, outcome: exception.code, ms: elapsed(started) }, 'socket event refused');
      this.metrics.refused(exception.code);
      const body = { code: exception.code, message: exception.message, ...exception.details };
      try {
        ack?.({ error: body });
        socket.emit('error', { event, ...body });
      } catch {
        // the socket went away meanwhile
      }
    }
  }

  // A generation's frame, once, to every socket that should see it: those that joined the chat
  // and its audience (socket.io sends once to a socket in several of the rooms). The closing
  // usage_info goes to every socket of the owner instead (contract: after every generation of
  // that identity). Sockets following a retry get it from their own follow and are skipped.
  private deliver(owner: Identity, chatId: string, audience: readonly string[], event: GenerationEvent): void {
    const rooms = event.event === 'usage_info' ? [ownerRoom(ownerKey(owner))] : [chatRoom(chatId), ...audience];
    const to = this.toRooms(rooms);
    if (!to) return;
    const skip = this.followers.get(event.id.slice(0, event.id.lastIndexOf(':')));
    const target = skip?.size ? to.except([...skip]) : to;
    // One broadcast: socket.io encodes the packet once for all the sockets it reaches.
    emitFrame(target, event);
  }

  private listened(room: string): boolean {
    if (this.nsp.adapter.rooms.has(room)) return true;
    const until = this.recoverableRooms.get(room);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.recoverableRooms.delete(room);
    return false;
  }

  private addressOf(socket: ChatsSocket): string | undefined {
    return ClientAddress.fromHandshake(socket.handshake, this.config.trustProxy);
  }

  private toOwner(owner: Identity) {
    return this.toRooms([ownerRoom(ownerKey(owner))]);
  }

  // A broadcast to these rooms, or nothing when (alone) nobody is in them and no dropped
  // connection may come back to them: then nothing is encoded, and socket.io keeps nothing for
  // recovery. With Redis, other instances may have listeners: always.
  private toRooms(rooms: string[]) {
    if (!this.redis.enabled && !rooms.some((room) => this.listened(room))) return undefined;
    return this.nsp.to(rooms);
  }

  private async pushUsage(owner: Identity, socket: ChatsSocket): Promise<void> {
    try {
      socket.emit('usage_info', await this.usage.describe(owner, { ip: this.addressOf(socket) }));
    } catch (error) {
      this.logger.warn({ err: error }, 'could not push usage_info');
    }
  }
}

// A generation frame as the event of its name: GenerationEvent pairs each name with its payload,
// which TypeScript cannot follow through the union (hence `as never` on a payload already typed).
function emitFrame(target: BroadcastOperator<ServerToClientEvents, SocketData>, frame: GenerationEvent): void {
  target.emit(frame.event, frame.data as never);
}

// The payload and the acknowledgement of a client event. A client that sends no payload
// (`socket.emit('ping', ack)`) passes its ack first.
function splitArgs(args: unknown[]): { payload: unknown; ack?: (answer: unknown) => void } {
  const last = args.at(-1);
  const ack = typeof last === 'function' ? (last as (answer: unknown) => void) : undefined;
  const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
  return { payload, ack };
}

const CHAT_ROOM = chatRoom('');
const PROJECT_ROOM = projectRoom('');
// The events deliver() sends to a chat's room (the closing usage_info goes to the owner's).
const CHAT_ROOM_EVENTS = new Set<string>(Object.keys(GENERATION_EVENTS).filter((name) => name !== 'usage_info'));

function without(all: string[], kept: string[]): Set<string> {
  const lost = new Set(all);
  for (const id of kept) lost.delete(id);
  return lost;
}

// Whether a missed packet (the event name, its payload, the offset) reached the socket through
// a room it had to leave. A packet carries no room, so this follows where each event is sent:
// generation frames to the chat's room (by chat_id), project_updated to the project's room and
// document_status to it and the owner's (by project_id: a project's documents move with it).
// What the owner's room got about a lost chat (chat_deleted on a move) stays.
function sentToLostRoom(packet: unknown[], lostChats: Set<string>, lostProjects: Set<string>): boolean {
  const [event, payload] = packet;
  if (typeof event !== 'string' || typeof payload !== 'object' || payload === null) return false;
  const { chat_id: chatId, project_id: projectId } = payload as { chat_id?: unknown; project_id?: unknown };
  if (CHAT_ROOM_EVENTS.has(event)) return typeof chatId === 'string' && lostChats.has(chatId);
  if (event === 'project_updated' || event === 'document_status') return typeof projectId === 'string' && lostProjects.has(projectId);
  return false;
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 10) / 10;

function header(socket: Socket, name: string): string | undefined {
  const value = socket.handshake.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
