import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ProjectEntity } from '../projects/project.entity.js';
import { UserEntity } from '../users/user.entity.js';

export type DocumentStatus = 'processing' | 'ready' | 'failed';

// An uploaded file. Owned like a chat (a user or an anonymous visitor), in a project or not.
// The upload is kept in `content` until it has been read, split and indexed, so that another
// instance (or this one after a restart) can process it; a worker holds it through a lease.
@Entity('documents')
@Check('documents_one_owner_check', '(user_id IS NULL) <> (anon_id IS NULL)')
@Check('documents_status_check', `status IN ('processing', 'ready', 'failed')`)
// Scopes of retrieval and listings: an owner's documents in one project, or outside any.
@Index('documents_user_project_idx', ['userId', 'projectId'])
@Index('documents_anon_project_idx', ['anonId', 'projectId'])
@Index('documents_project_idx', ['projectId'])
// The ingestion workers' queue.
@Index('documents_processing_idx', ['createdAt'], { where: `status = 'processing'` })
export class DocumentEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'documents_user_id_fkey' })
  user?: UserEntity;

  @Column({ name: 'anon_id', type: 'uuid', nullable: true })
  anonId: string | null;

  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @ManyToOne(() => ProjectEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'project_id', foreignKeyConstraintName: 'documents_project_id_fkey' })
  project?: ProjectEntity;

  @Column({ type: 'varchar', length: 255 })
  filename: string;

  @Column({ name: 'media_type', type: 'varchar', length: 100 })
  mediaType: string;

  @Column({ type: 'integer' })
  bytes: number;

  @Column({ type: 'varchar', length: 16 })
  status: DocumentStatus;

  @Column({ type: 'smallint', default: 0 })
  progress: number;

  @Column({ name: 'chunk_count', type: 'integer', default: 0 })
  chunkCount: number;

  // Why it failed, in words a user can act on.
  @Column({ type: 'varchar', length: 500, nullable: true })
  error: string | null;

  // The text search configuration its passages are indexed with (english, german, ..., simple).
  @Column({ name: 'search_config', type: 'varchar', length: 32, nullable: true })
  searchConfig: string | null;

  // The upload, until it has been processed.
  @Column({ type: 'bytea', nullable: true, select: false })
  content: Buffer | null;

  // The worker's claim: its id, how long it holds, and how many claims it took so far.
  @Column({ name: 'claim_id', type: 'uuid', nullable: true })
  claimId: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
