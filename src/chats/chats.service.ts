import { Injectable } from '@nestjs/common';
import type { Identity } from '../common/identity.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { DomainEvents } from '../common/events/domain-events.js';
import { MessagesRepository } from './messages.repository.js';
import { toChatView, toMessageView, type ChatView, type MessageView } from './chat-view.js';
import { ChatsRepository } from './chats.repository.js';

// Chat management for every transport. A foreign chat and an unknown one get the same answer.
@Injectable()
export class ChatsService {
  constructor(
    private readonly chats: ChatsRepository,
    private readonly messages: MessagesRepository,
    private readonly events: DomainEvents,
  ) {}

  async list(owner: Identity, page: number, limit: number): Promise<{ chats: ChatView[]; page: number; limit: number; total: number }> {
    const { chats, total } = await this.chats.listOwned(owner, page, limit);
    return { chats: chats.map(toChatView), page, limit, total };
  }

  async listMessages(owner: Identity, chatId: string, page: number, limit: number): Promise<{ chat_id: string; messages: MessageView[]; page: number; limit: number; total: number }> {
    await this.require(owner, chatId);
    const { messages, total } = await this.messages.listForChat(chatId, page, limit);
    return { chat_id: chatId, messages: messages.map(toMessageView), page, limit, total };
  }

  async rename(owner: Identity, chatId: string, title: string): Promise<{ chat: ChatView }> {
    const chat = await this.chats.rename(chatId, owner, title.trim());
    if (!chat) throw notFound();
    const view = toChatView(chat);
    this.events.emit('chat.updated', { owner, chat: view });
    return { chat: view };
  }

  async delete(owner: Identity, chatId: string): Promise<{ chat_id: string }> {
    if (!(await this.chats.deleteOwned(chatId, owner))) throw notFound();
    this.events.emit('chat.deleted', { owner, chatId });
    return { chat_id: chatId };
  }

  // Which of these chats the owner has (a recovered socket's rooms are checked with it).
  owned(owner: Identity, chatIds: readonly string[]): Promise<string[]> {
    return this.chats.ownedIds(chatIds, owner);
  }

  async require(owner: Identity, chatId: string): Promise<void> {
    if (!(await this.chats.findOwned(chatId, owner))) throw notFound();
  }
}

const notFound = () => new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
