import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

// One row per message an anonymous visitor sent; the rolling-window quotas count these rows,
// per anonymous id and per client address. A refunded row (the generation failed) stops counting.
// Every send writes a row, so it carries no index it does not need: the message key is the key.
@Entity('anon_usage')
@Index('anon_usage_anon_window_idx', ['anonId', 'createdAt'], { where: 'refunded_at IS NULL' })
@Index('anon_usage_address_window_idx', ['clientAddress', 'createdAt'], { where: 'refunded_at IS NULL AND client_address IS NOT NULL' })
export class AnonUsageEntity {
  @Column({ name: 'anon_id', type: 'uuid' })
  anonId: string;

  // The address as counted: an IPv4 address, or an IPv6 /64 prefix; null when unknown.
  @Column({ name: 'client_address', type: 'varchar', length: 64, nullable: true })
  clientAddress: string | null;

  @PrimaryColumn({ name: 'message_key', type: 'varchar', length: 100, primaryKeyConstraintName: 'anon_usage_pkey' })
  messageKey: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @Column({ name: 'settled_at', type: 'timestamptz', nullable: true })
  settledAt: Date | null;

  @Column({ name: 'refunded_at', type: 'timestamptz', nullable: true })
  refundedAt: Date | null;
}
