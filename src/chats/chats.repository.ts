import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { In, type DataSource, type Repository } from 'typeorm';
import { ownerColumns, ownerKey, type Identity } from '../auth/identity.js';
import { ChatEntity } from './chat.entity.js';

@Injectable()
export class ChatsRepository {
  constructor(
    @InjectRepository(ChatEntity) private readonly chats: Repository<ChatEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  findById(id: string): Promise<ChatEntity | null> {
    return this.chats.findOneBy({ id });
  }

  // The chat when it belongs to this owner; null for a foreign chat and an unknown one alike.
  findOwned(id: string, owner: Identity): Promise<ChatEntity | null> {
    const { userId, anonId } = ownerColumns(owner);
    return userId ? this.chats.findOneBy({ id, userId }) : this.chats.findOneBy({ id, anonId: anonId! });
  }

  async listOwned(owner: Identity, page: number, limit: number): Promise<{ chats: ChatEntity[]; total: number }> {
    const { userId, anonId } = ownerColumns(owner);
    const where = userId ? { userId } : { anonId: anonId! };
    const [chats, total] = await this.chats.findAndCount({
      where,
      order: { updatedAt: 'DESC', id: 'DESC' },
      skip: page * limit,
      take: limit,
    });
    return { chats, total };
  }

  async rename(id: string, owner: Identity, title: string): Promise<ChatEntity | null> {
    const chat = await this.findOwned(id, owner);
    if (!chat) return null;
    chat.title = title;
    return this.chats.save(chat);
  }

  async deleteOwned(id: string, owner: Identity): Promise<boolean> {
    const { userId, anonId } = ownerColumns(owner);
    const result = await this.chats.delete(userId ? { id, userId } : { id, anonId: anonId! });
    return (result.affected ?? 0) > 0;
  }

  // Sign-up or login with an anonymous id: that visitor's chats and idempotency keys move to the
  // user. A key the user already used stays with the anonymous id (it can no longer collide).
  // updated_at is left alone, so the moved chats keep their order.
  async transferAnonymous(anonId: string, userId: string): Promise<ChatEntity[]> {
    return this.dataSource.transaction(async (manager) => {
      const [rows]: [Record<string, unknown>[], number] = await manager.query(
        'UPDATE chats SET user_id = $1, anon_id = NULL WHERE anon_id = $2 RETURNING id',
        [userId, anonId],
      );
      const from = ownerKey({ kind: 'anonymous', anonId });
      const to = ownerKey({ kind: 'user', userId });
      await manager.query(
        `UPDATE messages SET owner_key = $2 WHERE owner_key = $1
         AND NOT EXISTS (SELECT 1 FROM messages m2 WHERE m2.owner_key = $2 AND m2.client_message_id = messages.client_message_id)`,
        [from, to],
      );
      const ids = rows.map((r) => r.id as string);
      return ids.length === 0 ? [] : manager.find(ChatEntity, { where: { id: In(ids) }, order: { updatedAt: 'DESC' } });
    });
  }

}
