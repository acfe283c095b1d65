import { Injectable } from '@nestjs/common';
import type { AppLogger } from '../logging/logger.js';
import { EventEmitter } from 'node:events';
import type { ChatView } from '../../chats/chat-view.js';
import type { Identity } from '../identity.js';
import type { GenerationEvent } from '../../messages/stream-events.js';
import type { AppException } from '../errors/app.exception.js';
import type { DocumentStatusEvent, ProjectUpdatedEvent } from '../../documents/document-view.js';

// What happened, told by the services that made it happen; transports (the socket gateway)
// listen and deliver. Local to the process: the Socket.IO adapter carries deliveries across
// instances.
export interface DomainEventMap {
  'chat.created': { owner: Identity; chat: ChatView };
  'chat.updated': { owner: Identity; chat: ChatView };
  'chat.deleted': { owner: Identity; chatId: string };
  // audience: sockets that get the frame besides the chat's room (the one that sent the message).
  'generation.event': { owner: Identity; chatId: string; audience: readonly string[]; event: GenerationEvent };
  'quota.refused': { owner: Identity; error: AppException };
  // Documents and projects: to the owner's sockets and / or the project's room.
  'document.status': { owner: Identity; status: DocumentStatusEvent };
  'project.updated': { update: ProjectUpdatedEvent };
  // A visitor's projects moved to an account: the visitor's sockets leave their rooms.
  'projects.moved': { from: Identity; projectIds: string[] };
}

@Injectable()
export class DomainEvents {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor(private readonly logger: AppLogger) {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends keyof DomainEventMap>(name: K, payload: DomainEventMap[K]): void {
    this.emitter.emit(name, payload);
  }

  // A throwing listener is isolated (the others still hear the event) and logged.
  on<K extends keyof DomainEventMap>(name: K, listener: (payload: DomainEventMap[K]) => void): () => void {
    const safe = (payload: DomainEventMap[K]) => {
      try {
        listener(payload);
      } catch (error) {
        this.logger.error({ err: error, event: name }, 'a domain event listener failed');
      }
    };
    this.emitter.on(name, safe);
    return () => this.emitter.off(name, safe);
  }
}
