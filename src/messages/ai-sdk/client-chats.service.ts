import { Injectable } from '@nestjs/common';
import { ChatsRepository } from '../../chats/chats.repository.js';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ownerKey, type Identity } from '../../common/identity.js';
import type { GenerationHandle } from '../generation/generation-registry.js';
import { ResumeGeneration } from '../generation/resume-generation.use-case.js';

// A client's own chat ids (the AI SDK names its chats) and what they lead to. A send creates
// the mapping itself, in its turn's transaction (SendCommand.clientChatId).
@Injectable()
export class ClientChatsService {
  constructor(
    private readonly chats: ChatsRepository,
    private readonly messages: MessagesRepository,
    private readonly resume: ResumeGeneration,
  ) {}

  // The chat to answer again: it must exist already.
  async chatId(identity: Identity, clientChatId: string): Promise<string> {
    const chatId = await this.chats.findIdByClientChatId(ownerKey(identity), clientChatId);
    if (!chatId) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
    return chatId;
  }

  // The answer being generated in that chat, from any instance, to follow from its start; null
  // when none runs (an unknown chat id included: useChat asks on every page load). Following it
  // does not hold it: this client leaving does not stop it.
  async runningAnswer(identity: Identity, clientChatId: string): Promise<GenerationHandle | null> {
    const message = await this.messages.findStreamingInClientChat(ownerKey(identity), clientChatId);
    // Still "streaming" with no log: its process died and the sweeper has not closed it yet.
    return message ? this.resume.live(message, false) : null;
  }
}
