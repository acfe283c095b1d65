import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { type DataSource, type EntityManager, type Repository } from 'typeorm';
import { identityOfOwner, ownerColumns, type Identity } from '../auth/identity.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { MessageEntity, type MessageStatus } from './message.entity.js';

export interface FinishInput {
  status: Exclude<MessageStatus, 'streaming' | 'superseded'>;
  content: string;
  inputTokens: number | null;
  outputTokens: number | null;
  stopReason: string | null;
  errorCode: string | null;
}

export interface AbandonedMessage {
  id: string;
  content: string;
  model: string | null;
  owner: Identity;
}

export interface NewTurn {
  // Set when the chat does not exist yet: it is created in the same transaction.
  newChat?: { owner: Identity; title: string };
  chatId?: string;
  user?: { content: string; ownerKey: string; clientMessageId: string | null; requestHash: string | null };
  // The user message an assistant answer replies to, when no new user message is written.
  replyToId?: string;
  assistant: { id: string; model: string; replacesId: string | null };
}

@Injectable()
export class MessagesRepository {
  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  // Writes the turn at once: the chat (if new), the user message and the assistant message in
  // state "streaming". A superseded answer is marked in the same transaction.
  async createTurn(turn: NewTurn): Promise<{ chat: ChatEntity; chatCreated: boolean; user: MessageEntity | null; assistant: MessageEntity }> {
    return this.dataSource.transaction(async (manager) => {
      let chat: ChatEntity;
      let chatCreated = false;
      if (turn.newChat) {
        chat = await manager.save(manager.create(ChatEntity, { ...ownerColumns(turn.newChat.owner), title: turn.newChat.title }));
        chatCreated = true;
      } else {
        // FOR SHARE: a delete of the chat waits for this turn, or has happened and is seen.
        const existing = await manager.findOne(ChatEntity, { where: { id: turn.chatId! }, lock: { mode: 'pessimistic_read' } });
        if (!existing) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
        chat = existing;
      }
      const user = turn.user
        ? await manager.save(manager.create(MessageEntity, { chatId: chat.id, role: 'user', status: 'complete', content: turn.user.content, ownerKey: turn.user.ownerKey, clientMessageId: turn.user.clientMessageId, requestHash: turn.user.requestHash }))
        : null;
      if (turn.assistant.replacesId) {
        await manager.update(MessageEntity, { id: turn.assistant.replacesId }, { status: 'superseded' });
      }
      const assistant = await manager.save(
        manager.create(MessageEntity, {
          id: turn.assistant.id,
          chatId: chat.id,
          role: 'assistant',
          status: 'streaming',
          content: '',
          model: turn.assistant.model,
          replyToId: user?.id ?? turn.replyToId ?? null,
          replacesId: turn.assistant.replacesId,
        }),
      );
      await this.touchChat(manager, chat);
      return { chat, chatCreated, user, assistant };
    });
  }

  // Only a message still streaming is finished: a second finish (e.g. the crash sweeper racing a
  // late generation) changes nothing. Returns whether this call finished it.
  async finish(id: string, input: FinishInput): Promise<boolean> {
    const result = await this.messages.update({ id, status: 'streaming' }, input);
    const finished = (result.affected ?? 0) > 0;
    if (finished) {
      await this.dataSource.query(`UPDATE chats SET last_message_at = now(), updated_at = now() FROM messages m WHERE m.id = $1 AND chats.id = m.chat_id`, [id]);
    }
    return finished;
  }

  // Keeps the text produced so far and proves the generation is alive (see closeAbandoned).
  async saveProgress(id: string, content: string): Promise<void> {
    await this.messages.update({ id, status: 'streaming' }, { content });
  }

  async touchStreaming(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(`UPDATE messages SET updated_at = now() WHERE id = ANY($1::uuid[]) AND status = 'streaming'`, [ids]);
  }

  // Messages left "streaming" by a process that died: closed as errors with what they had.
  async closeAbandoned(staleSeconds: number): Promise<AbandonedMessage[]> {
    const [rows]: [{ id: string; content: string; model: string | null; user_id: string | null; anon_id: string | null }[], number] = await this.dataSource.query(
      `UPDATE messages m SET status = 'error', error_code = 'INTERNAL_ERROR', stop_reason = 'interrupted', updated_at = now()
       FROM chats c
       WHERE c.id = m.chat_id AND m.status = 'streaming' AND m.updated_at < now() - make_interval(secs => $1)
       RETURNING m.id, m.content, m.model, c.user_id, c.anon_id`,
      [staleSeconds],
    );
    return rows.map((r) => ({
      id: r.id,
      content: r.content,
      model: r.model,
      owner: identityOfOwner(r.user_id, r.anon_id),
    }));
  }

  findById(id: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ id });
  }

  // The message when its chat belongs to this owner; null for foreign and unknown alike.
  async findOwned(id: string, owner: Identity): Promise<MessageEntity | null> {
    const { userId, anonId } = ownerColumns(owner);
    return this.messages
      .createQueryBuilder('m')
      .innerJoin(ChatEntity, 'c', 'c.id = m.chat_id')
      .where('m.id = :id', { id })
      .andWhere(userId ? 'c.user_id = :userId' : 'c.anon_id = :anonId', { userId, anonId })
      .getOne();
  }

  findByClientMessageId(ownerKey: string, clientMessageId: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ ownerKey, clientMessageId });
  }

  // The newest answer to a user message (regenerations included).
  findLatestAnswer(userMessageId: string): Promise<MessageEntity | null> {
    return this.messages.findOne({ where: { replyToId: userMessageId, role: 'assistant' }, order: { createdAt: 'DESC' } });
  }

  findLastUserMessage(chatId: string): Promise<MessageEntity | null> {
    return this.messages.findOne({ where: { chatId, role: 'user' }, order: { createdAt: 'DESC' } });
  }

  // The conversation as the model should see it: oldest first, superseded and failed answers left out.
  // Compared in SQL: JavaScript dates would drop the microseconds of created_at.
  async conversation(chatId: string, upToMessageId: string): Promise<MessageEntity[]> {
    return this.messages
      .createQueryBuilder('m')
      .where('m.chat_id = :chatId', { chatId })
      .andWhere('m.created_at <= (SELECT created_at FROM messages WHERE id = :upTo)', { upTo: upToMessageId })
      .andWhere(`(m.role = 'user' OR (m.status IN ('complete', 'stopped') AND m.content <> ''))`)
      .orderBy('m.created_at', 'ASC')
      .getMany();
  }

  async listForChat(chatId: string, page: number, limit: number): Promise<{ messages: MessageEntity[]; total: number }> {
    const [messages, total] = await this.messages.findAndCount({
      where: { chatId },
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: page * limit,
      take: limit,
    });
    return { messages, total };
  }

  private async touchChat(manager: EntityManager, chat: ChatEntity): Promise<void> {
    await manager.query('UPDATE chats SET last_message_at = now(), updated_at = now() WHERE id = $1', [chat.id]);
  }
}
