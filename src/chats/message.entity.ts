import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { MessageSource } from '../messages/stream-events.js';
import { ChatEntity } from './chat.entity.js';

export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'streaming' | 'complete' | 'stopped' | 'error' | 'superseded';

@Entity('messages')
@Check('messages_role_check', `role IN ('user', 'assistant')`)
@Check('messages_status_check', `status IN ('streaming', 'complete', 'stopped', 'error', 'superseded')`)
@Index('messages_chat_created_idx', ['chatId', 'createdAt'])
@Index('messages_owner_client_id_key', ['ownerKey', 'clientMessageId'], { unique: true, where: 'client_message_id IS NOT NULL' })
// The running answers: of an owner (the per-identity cap), and all of them (the sweeper scans
// this small index). Every index costs each turn's writes, so there is one for both.
@Index('messages_owner_streaming_idx', ['ownerKey'], { where: `status = 'streaming'` })
// The answers to a user message (user messages reply to nothing and stay out of it).
@Index('messages_reply_to_idx', ['replyToId'], { where: 'reply_to_id IS NOT NULL' })
export class MessageEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId: string;

  @ManyToOne(() => ChatEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'chat_id', foreignKeyConstraintName: 'messages_chat_id_fkey' })
  chat?: ChatEntity;

  @Column({ type: 'varchar', length: 16 })
  role: MessageRole;

  @Column({ type: 'text', default: '' })
  content: string;

  @Column({ type: 'varchar', length: 16 })
  status: MessageStatus;

  @Column({ type: 'varchar', length: 100, nullable: true })
  model: string | null;

  @Column({ name: 'input_tokens', type: 'integer', nullable: true })
  inputTokens: number | null;

  @Column({ name: 'output_tokens', type: 'integer', nullable: true })
  outputTokens: number | null;

  @Column({ name: 'stop_reason', type: 'varchar', length: 40, nullable: true })
  stopReason: string | null;

  @Column({ name: 'error_code', type: 'varchar', length: 40, nullable: true })
  errorCode: string | null;

  // Idempotency: the client's key, unique per owner ("u:<user id>" or "a:<anon id>"), and a hash
  // of the request body so a reuse with another body is refused. Answers carry the owner too.
  @Column({ name: 'client_message_id', type: 'varchar', length: 64, nullable: true })
  clientMessageId: string | null;

  @Column({ name: 'owner_key', type: 'varchar', length: 40, nullable: true })
  ownerKey: string | null;

  @Column({ name: 'request_hash', type: 'varchar', length: 64, nullable: true })
  requestHash: string | null;

  // For an assistant message: the passages it was given, as streamed in message_sources.
  @Column({ type: 'jsonb', nullable: true })
  sources: MessageSource[] | null;

  // For an assistant message: the user message it answers.
  @Column({ name: 'reply_to_id', type: 'uuid', nullable: true })
  replyToId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'reply_to_id', foreignKeyConstraintName: 'messages_reply_to_id_fkey' })
  replyTo?: MessageEntity;

  // For a regenerated answer: the answer it replaces (which is then marked superseded).
  @Column({ name: 'replaces_id', type: 'uuid', nullable: true })
  replacesId: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'replaces_id', foreignKeyConstraintName: 'messages_replaces_id_fkey' })
  replaces?: MessageEntity;

  // clock_timestamp(), not now(): two messages written in one transaction still sort in order.
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
