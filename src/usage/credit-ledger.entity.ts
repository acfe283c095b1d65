import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity } from '../users/user.entity.js';
import { bigintAsNumber } from './credit-account.entity.js';

export type LedgerKind = 'grant' | 'reserve' | 'release' | 'charge' | 'refund';

// Every movement of a user's credits. `amount` is the signed change of the spendable balance:
// grant +n, reserve -estimate, release +estimate (the hold ends), charge -actual, refund
// +estimate (a failed generation's hold returned). So SUM(amount) is the balance, and a key's
// reserve/release/charge rows together say what one generation cost.
@Entity('credit_ledger')
@Check('credit_ledger_kind_check', `kind IN ('grant', 'reserve', 'release', 'charge', 'refund')`)
@Index('credit_ledger_user_created_idx', ['userId', 'createdAt'])
// One row of each kind per generation: what makes reserve and settle idempotent.
@Index('credit_ledger_message_kind_key', ['messageKey', 'kind'], { unique: true, where: 'message_key IS NOT NULL' })
export class CreditLedgerEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'credit_ledger_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'credit_ledger_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 16 })
  kind: LedgerKind;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  amount: number;

  // The assistant message id for generation rows; "signup:<user id>" for the initial grant.
  @Column({ name: 'message_key', type: 'varchar', length: 100, nullable: true })
  messageKey: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  model: string | null;

  @Column({ name: 'input_tokens', type: 'integer', nullable: true })
  inputTokens: number | null;

  @Column({ name: 'output_tokens', type: 'integer', nullable: true })
  outputTokens: number | null;

  // True when a charge was computed from an estimate (the stream was cut before the provider
  // reported its usage).
  @Column({ type: 'boolean', default: false })
  estimated: boolean;

  @Column({ type: 'text', nullable: true })
  note: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;
}
