import { Check, Column, CreateDateColumn, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { UserEntity } from '../users/user.entity.js';

// PostgreSQL returns bigint as a string; credits stay well inside Number's safe range.
export const bigintAsNumber = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

// One row per user. `balance` is what the user can still spend; `reserved` is what running
// generations hold (already taken out of `balance`, returned or charged when they settle).
// The ledger (credit_ledger) is the history; this row is its running total, kept in step in
// the same transaction as every ledger row.
@Entity('credit_accounts')
@Check('credit_accounts_balance_check', 'balance >= 0')
@Check('credit_accounts_reserved_check', 'reserved >= 0')
export class CreditAccountEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'credit_accounts_pkey' })
  userId: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'credit_accounts_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  balance: number;

  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  reserved: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
