import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ChatEntity } from './chat.entity.js';

// A chat id chosen by a client (the AI SDK's `useChat` names its chats itself: any string, not a
// UUID), mapped to one chat of its owner. Keyed by owner, so two visitors' "main" are two chats;
// removed with the chat, so a deleted chat's id starts a new one.
@Entity('client_chats')
@Index('client_chats_chat_idx', ['chatId'])
export class ClientChatEntity {
  // "u:<user id>" or "a:<anon id>", as messages.owner_key.
  @PrimaryColumn({ name: 'owner_key', type: 'varchar', length: 40, primaryKeyConstraintName: 'client_chats_pkey' })
  ownerKey: string;

  @PrimaryColumn({ name: 'client_chat_id', type: 'varchar', length: 64, primaryKeyConstraintName: 'client_chats_pkey' })
  clientChatId: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id', foreignKeyConstraintName: 'client_chats_chat_id_fkey' })
  chat?: ChatEntity;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
