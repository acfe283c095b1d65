import { Injectable } from '@nestjs/common';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { Identity } from '../../common/identity.js';
import { GenerationRegistry } from './generation-registry.js';

const LOCAL_STOP_WAIT_MS = 2_000;

// Stops a generation of this owner, wherever it runs. Answers the message's status: the stored
// one when it ran here (it is stored by then), "stopping" when another instance was told.
@Injectable()
export class StopGeneration {
  constructor(
    private readonly registry: GenerationRegistry,
    private readonly messages: MessagesRepository,
  ) {}

  async execute(identity: Identity, messageId: string): Promise<{ message_id: string; status: string }> {
    const message = await this.messages.findOwned(messageId, identity);
    if (!message || message.role !== 'assistant') throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Message not found');
    if (message.status !== 'streaming') return { message_id: message.id, status: message.status };
    const local = await this.registry.stop(message.id);
    if (!local) return { message_id: message.id, status: 'stopping' };
    await Promise.race([local.done, sleep(LOCAL_STOP_WAIT_MS)]);
    return { message_id: message.id, status: (await this.messages.findById(message.id))?.status ?? 'stopped' };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
