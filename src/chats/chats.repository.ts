import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { In, type DataSource, type Repository } from 'typeorm';
import { ownerColumn, ownerColumns, ownerKey, type Identity } from '../common/identity.js';
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

  // Of these chat ids, the ones this owner has (one statement, however many).
  async ownedIds(ids: readonly string[], owner: Identity): Promise<string[]> {
    if (ids.length === 0) return [];
    const { column, id } = ownerColumn(owner);
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM chats WHERE id = ANY($1::uuid[]) AND ${column} = $2`, [ids, id]);
    return rows.map((r) => r.id);
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

  // The chat a client's own chat id (the AI SDK's) maps to for this owner, if any.
  async findIdByClientChatId(ownerKey: string, clientChatId: string): Promise<string | null> {
    const rows: { chat_id: string }[] = await this.dataSource.query('SELECT chat_id FROM client_chats WHERE owner_key = $1 AND client_chat_id = $2', [ownerKey, clientChatId]);
    return rows[0]?.chat_id ?? null;
  }

  // Sign-up or login with an anonymous id: that visitor's chats and messages move to the user.
  // A visitor's idempotency key that the user already used is dropped (set to NULL) rather than
  // kept under the visitor's key: there it would let a later send of the visitor with that key
  // replay an answer from a chat that now belongs to the account.
  // Client chat ids move too; one the user already has keeps naming the user's chat (the
  // visitor's chat stays reachable by its id). updated_at is left alone, so the moved chats keep
  // their order.
  async transferAnonymous(anonId: string, userId: string): Promise<ChatEntity[]> {
    return this.dataSource.transaction(async (manager) => {
      const [rows]: [Record<string, unknown>[], number] = await manager.query(
        'UPDATE chats SET user_id = $1, anon_id = NULL WHERE anon_id = $2 RETURNING id',
        [userId, anonId],
      );
      const from = ownerKey({ kind: 'anonymous', anonId });
      const to = ownerKey({ kind: 'user', userId });
      // The subquery reads the rows as they were before this statement: only the user's own keys.
      await manager.query(
        `UPDATE messages m SET owner_key = $2::varchar,
           client_message_id = CASE WHEN EXISTS (SELECT 1 FROM messages m2 WHERE m2.owner_key = $2::varchar AND m2.client_message_id = m.client_message_id)
             THEN NULL ELSE m.client_message_id END
         WHERE m.owner_key = $1`,
        [from, to],
      );
      await manager.query(
        `UPDATE client_chats SET owner_key = $2 WHERE owner_key = $1
         AND NOT EXISTS (SELECT 1 FROM client_chats c2 WHERE c2.owner_key = $2 AND c2.client_chat_id = client_chats.client_chat_id)`,
        [from, to],
      );
      await manager.query('DELETE FROM client_chats WHERE owner_key = $1', [from]);
      const ids = rows.map((r) => r.id as string);
      return ids.length === 0 ? [] : manager.find(ChatEntity, { where: { id: In(ids) }, order: { updatedAt: 'DESC' } });
    });
  }

}
