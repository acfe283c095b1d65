import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Identity } from '../../auth/identity.js';
import type { GenerationEvent } from '../../messages/stream-events.js';
import type { AppException } from '../errors/app.exception.js';

export interface ChatView {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  last_message_at: string | null;
}

// What happened, told by the services that made it happen; transports (the socket gateway)
// listen and deliver. Local to the process: the Socket.IO adapter carries deliveries across
// instances.
export interface DomainEventMap {
  'chat.created': { owner: Identity; chat: ChatView };
  'chat.updated': { owner: Identity; chat: ChatView };
  'chat.deleted': { owner: Identity; chatId: string };
  'generation.event': { owner: Identity; chatId: string; event: GenerationEvent };
  'quota.refused': { owner: Identity; error: AppException };
}

@Injectable()
export class DomainEvents {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends keyof DomainEventMap>(name: K, payload: DomainEventMap[K]): void {
    this.emitter.emit(name, payload);
  }

  // Listeners must not throw; a throwing listener is isolated so that it cannot break the emitter.
  on<K extends keyof DomainEventMap>(name: K, listener: (payload: DomainEventMap[K]) => void): () => void {
    const safe = (payload: DomainEventMap[K]) => {
      try {
        listener(payload);
      } catch {
        // the listener logs its own failures
      }
    };
    this.emitter.on(name, safe);
    return () => this.emitter.off(name, safe);
  }
}
