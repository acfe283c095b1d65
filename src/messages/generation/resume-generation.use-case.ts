import { Inject, Injectable } from '@nestjs/common';
import type { MessageEntity } from '../../chats/message.entity.js';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { Identity } from '../../common/identity.js';
import { UsageService } from '../../usage/usage.service.js';
import { frames } from './generation-frames.js';
import { GENERATION_LOG, type GenerationLog } from './generation-log.js';
import { GenerationRegistry, type GenerationHandle } from './generation-registry.js';

// Resume: a generation of this owner to follow, running (its live log, from any instance with
// Redis) or finished (its log, or the stored message once the log has gone).
@Injectable()
export class ResumeGeneration {
  constructor(
    @Inject(GENERATION_LOG) private readonly log: GenerationLog,
    private readonly registry: GenerationRegistry,
    private readonly messages: MessagesRepository,
    private readonly usage: UsageService,
  ) {}

  async execute(identity: Identity, messageId: string): Promise<GenerationHandle> {
    const message = await this.messages.findOwned(messageId, identity);
    if (!message || message.role !== 'assistant') throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Message not found');
    return this.handleFor(identity, message, { holds: false });
  }

  // holds: the follower counts as one of the generation's clients (a retry of its send does;
  // a resume does not), so that its leaving may stop it.
  async handleFor(identity: Identity, message: MessageEntity, options: { holds: boolean; keepGenerating?: boolean }): Promise<GenerationHandle> {
    const generation = this.registry.get(message.id);
    if (generation && options.keepGenerating) generation.keepGenerating = true;
    const live = await this.live(message, options.holds, generation);
    if (live) return live;
    const usage = await this.usage.describe(identity);
    return {
      messageId: message.id,
      chatId: message.chatId,
      attached: true,
      follow: async (afterSeq, handlers) => {
        for (const frame of frames.stored(message, usage, afterSeq)) handlers.onEvent(frame);
        handlers.onEnd();
        return () => undefined;
      },
      release: () => undefined,
    };
  }

  // Its live log to follow (running here, or on any instance with Redis); null once it has none.
  // A generation running here is live before its first frame too: a retry that races the
  // request it repeats (its turn committed, its typing frame not yet written) follows it.
  async live(message: MessageEntity, holds: boolean, generation = this.registry.get(message.id)): Promise<GenerationHandle | null> {
    if (!generation && !(await this.log.has(message.id))) return null;
    return this.registry.handle(message.id, message.chatId, { generation, holds, attached: true });
  }
}
