import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { UserEntity } from '../users/user.entity.js';

// A project groups documents (and the chats that search them). Owned like a chat: by a user or
// by an anonymous visitor, whose projects move to the account on sign-up.
@Entity('projects')
@Check('projects_one_owner_check', '(user_id IS NULL) <> (anon_id IS NULL)')
@Index('projects_user_created_idx', ['userId', 'createdAt'])
@Index('projects_anon_created_idx', ['anonId', 'createdAt'])
export class ProjectEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'projects_user_id_fkey' })
  user?: UserEntity;

  @Column({ name: 'anon_id', type: 'uuid', nullable: true })
  anonId: string | null;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
