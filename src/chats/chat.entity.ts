import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ProjectEntity } from '../projects/project.entity.js';
import { UserEntity } from '../users/user.entity.js';

// A chat belongs to exactly one owner: a user or an anonymous visitor.
@Entity('chats')
@Check('chats_one_owner_check', '(user_id IS NULL) <> (anon_id IS NULL)')
// A chat has one owner, so each index holds only the chats of its kind of owner.
@Index('chats_user_recent_idx', ['userId', 'updatedAt'], { where: 'user_id IS NOT NULL' })
@Index('chats_anon_recent_idx', ['anonId', 'updatedAt'], { where: 'anon_id IS NOT NULL' })
export class ChatEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'chats_user_id_fkey' })
  user?: UserEntity;

  @Column({ name: 'anon_id', type: 'uuid', nullable: true })
  anonId: string | null;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  // The project whose documents its answers search; set when the chat is created.
  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @ManyToOne(() => ProjectEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'project_id', foreignKeyConstraintName: 'chats_project_id_fkey' })
  project?: ProjectEntity;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  // Bumped with every message so that "newest first" is one index scan.
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'last_message_at', type: 'timestamptz', nullable: true })
  lastMessageAt: Date | null;
}
