import { Inject, Injectable } from '@nestjs/common';
import type { Identity } from '../common/identity.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';
import { Sql, type Queryable } from '../database/sql.js';
import { AnonUsageRepository, type AnonScope, type AnonUsageRecord } from './anon-usage.repository.js';
import { quotaAddress } from './client-address.js';
import { CreditsRepository, type AccountBalance, type LedgerEntry } from './credits.repository.js';
import type { Reservation, ReservationState, SettleOutcome } from './reservation.js';
import type { UsageInfo } from './usage-info.js';
import { ANON_WINDOW_MS, creditsFor, entryThatFreesASlot, estimateCredits, remaining, type ModelPrice } from './usage-rules.js';

export type { Reservation, SettleOutcome } from './reservation.js';

export interface ReserveInput {
  identity: Identity;
  // The client address (ClientAddress.fromRequest / fromHandshake); counted for anonymous quotas.
  ip: string | undefined;
  model: ModelPrice;
  inputTokens: number;
  maxTokens: number;
  // The assistant message id: one reservation per key, whatever the number of calls.
  messageKey: string;
}

// A reservation, or the refusal to make one (ANON_LIMIT_REACHED / INSUFFICIENT_BALANCE), which
// is worked out in the same transaction before it rolls back.
export type ReserveOutcome = { reservation: Reservation; refused?: undefined } | { reservation?: undefined; refused: () => Promise<AppException> };

export interface GrantResult {
  entry: LedgerEntry;
  account: AccountBalance;
}

const MAX_GRANT = 1_000_000_000_000;

// Quotas for anonymous visitors and credits for users. The rules live here; the queries in
// credits.repository.ts and anon-usage.repository.ts. The *In methods write their statements
// into the caller's transaction (the generation engine opens and closes a turn in one each);
// the others run alone.
@Injectable()
export class UsageService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sql: Sql,
    private readonly credits: CreditsRepository,
    private readonly anonUsage: AnonUsageRepository,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  // Throws ANON_LIMIT_REACHED or INSUFFICIENT_BALANCE; then nothing was counted or held.
  async reserve(input: ReserveInput): Promise<Reservation> {
    return this.sql.transaction(async (tx) => {
      const outcome = await this.reserveIn(tx, input);
      if (outcome.refused) throw await outcome.refused();
      return outcome.reservation;
    });
  }

  // The statements of a reservation, serialised per identity (and address) until the
  // transaction ends: statements the caller writes after this call run under that lock. A
  // refusal must roll the transaction back.
  reserveIn(q: Queryable, input: ReserveInput): Promise<ReserveOutcome> {
    if (!input.messageKey || input.messageKey.length > 100) return Promise.reject(new Error('reserve: messageKey must be 1..100 characters'));
    return input.identity.kind === 'user' ? this.holdCredits(q, input, input.identity.userId) : this.countAnonymous(q, input, input.identity.anonId);
  }

  // Idempotent per message key: a second settle of the same key changes nothing.
  async settle(reservation: Reservation, outcome: SettleOutcome): Promise<void> {
    await this.sql.transaction((tx) => this.settleIn(tx, reservation, outcome));
  }

  settleIn(q: Queryable, reservation: Reservation, outcome: SettleOutcome): Promise<void> {
    const { identity, messageKey } = reservation;
    if (identity.kind === 'anonymous') {
      // Counted at reserve; a refund takes the message out of the window counts.
      const closed = outcome.refund ? this.anonUsage.markRefunded(q, messageKey) : this.anonUsage.markSettled(q, messageKey);
      return closed.then(() => undefined);
    }
    const usage = outcome.usage;
    this.credits.lockHold(q, messageKey).catch(() => undefined);
    return this.credits
      .settle(q, {
        userId: identity.userId,
        messageKey,
        refund: outcome.refund,
        // Unknown usage: the hold (the most it could have cost) is charged, marked estimated.
        wanted: usage ? creditsFor(reservation.model, usage.inputTokens, usage.outputTokens) : null,
        inputTokens: usage?.inputTokens ?? null,
        outputTokens: usage?.outputTokens ?? null,
        estimated: outcome.estimated || usage === null,
      })
      .then((result) => {
        if (!result.holdFound) this.logger.warn({ message_key: messageKey }, 'settle: no credit reservation with this key');
        if (result.settled && result.wanted > result.charged && !outcome.refund) {
          this.logger.warn({ user_id: identity.userId, message_key: messageKey, wanted: result.wanted, charged: result.charged }, 'charge capped at the available credits');
        }
      });
  }

  // Settles whatever this message key holds, a visitor's count or a user's credits, without
  // knowing whose it is: for generations whose process died (the chat may have moved to an
  // account since the hold was taken). Idempotent like settle.
  settleByKeyIn(q: Queryable, messageKey: string, model: ModelPrice, outcome: SettleOutcome): Promise<void> {
    const closing = outcome.refund ? this.anonUsage.markRefunded(q, messageKey) : this.anonUsage.markSettled(q, messageKey);
    this.credits.lockHold(q, messageKey).catch(() => undefined);
    const usage = outcome.usage;
    const settling = this.credits.settle(q, {
      userId: null,
      messageKey,
      refund: outcome.refund,
      wanted: usage ? creditsFor(model, usage.inputTokens, usage.outputTokens) : null,
      inputTokens: usage?.inputTokens ?? null,
      outputTokens: usage?.outputTokens ?? null,
      estimated: true,
    });
    return Promise.all([closing, settling]).then(() => undefined);
  }

  // Anonymous: the quota of the rolling 24 h (with `ip`, messages_remaining also honours the
  // address quota). Users: messages_used counts the generations charged in the last 24 h;
  // there is no message limit (credits are the limit), so limit, remaining and resets_at are
  // null; credits_balance is what can still be spent, credits_reserved what running
  // generations hold.
  describe(identity: Identity, options: { ip?: string } = {}): Promise<UsageInfo> {
    return this.describeIn(this.sql, identity, options);
  }

  async describeIn(q: Queryable, identity: Identity, options: { ip?: string } = {}): Promise<UsageInfo> {
    if (identity.kind === 'user') {
      const { account, charged } = await this.credits.findAccountWithCharges(q, identity.userId, ANON_WINDOW_MS);
      return {
        identity: 'user',
        user_id: identity.userId,
        messages_used: charged,
        messages_limit: null,
        messages_remaining: null,
        resets_at: null,
        credits_balance: account?.balance ?? 0,
        credits_reserved: account?.reserved ?? 0,
      };
    }
    const limit = this.config.anonMessageLimit;
    const address = quotaAddress(options.ip);
    const window = await this.anonUsage.window(q, identity.anonId, address, ANON_WINDOW_MS, limit, this.config.anonIpMessageLimit);
    let left = remaining({ used: window.used, limit });
    if (address) left = Math.min(left, remaining({ used: window.addressUsed, limit: this.config.anonIpMessageLimit }));
    return {
      identity: 'anonymous',
      anon_id: identity.anonId,
      messages_used: window.used,
      messages_limit: limit,
      messages_remaining: left,
      // When the next slot frees up: the counted message's 24 h end (null: none counted).
      resets_at: window.freesFrom ? windowEnd(window.freesFrom) : null,
    };
  }

  // USER_INITIAL_CREDITS, once per user (keyed, so a repeated call grants nothing more).
  async grantInitialCredits(userId: string): Promise<void> {
    const amount = this.config.userInitialCredits;
    await this.sql.transaction(async (tx) => {
      await this.credits.ensureAccount(tx, userId);
      if (amount === 0) return;
      const entry = await this.credits.insertEntry(tx, { userId, kind: 'grant', amount, messageKey: `signup:${userId}`, note: 'initial credits' });
      if (entry) await this.credits.adjustAccount(tx, userId, amount, 0);
    });
  }

  // An operator's grant (credits-cli): a positive whole number of credits.
  async grant(userId: string, amount: number, note?: string): Promise<GrantResult> {
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_GRANT) {
      throw new AppException(ErrorCode.VALIDATION_ERROR, `amount must be a whole number from 1 to ${MAX_GRANT}`);
    }
    return this.sql.transaction(async (tx) => {
      await this.credits.ensureAccount(tx, userId);
      const entry = await this.credits.insertEntry(tx, { userId, kind: 'grant', amount, note: note ?? null });
      const account = await this.credits.adjustAccount(tx, userId, amount, 0);
      return { entry: entry!, account };
    });
  }

  // For operators: the account and its latest ledger rows, newest first.
  async statement(userId: string, limit = 100): Promise<{ account: AccountBalance; ledgerBalance: number; entries: LedgerEntry[]; total: number }> {
    const [account, ledgerBalance, { entries, total }] = await Promise.all([
      this.credits.findAccount(this.sql, userId),
      this.credits.ledgerBalance(this.sql, userId),
      this.credits.listEntries(this.sql, userId, limit),
    ]);
    return { account: account ?? { balance: 0, reserved: 0 }, ledgerBalance, entries, total };
  }

  private async holdCredits(q: Queryable, input: ReserveInput, userId: string): Promise<ReserveOutcome> {
    const amount = estimateCredits(input.model, input.inputTokens, input.maxTokens);
    const base = { messageKey: input.messageKey, identity: input.identity, model: input.model, clientAddress: null };
    const hold = { userId, messageKey: input.messageKey, amount, model: input.model.id, inputTokens: input.inputTokens, maxTokens: input.maxTokens };
    this.credits.lockUser(q, userId).catch(() => undefined);
    const result = await this.credits.hold(q, hold);
    if (result.recorded && !result.held && result.balance === null && amount === 0) {
      // An account made before credits existed: a free model still runs (nothing to hold).
      await this.credits.ensureAccount(q, userId);
      return { reservation: { ...base, amount, state: 'held', existing: false } };
    }
    if (!result.recorded) {
      // Reserved before under this key: that reservation, never a second hold.
      const entries = await this.credits.findEntriesByKey(q, input.messageKey);
      const earlier = entries.find((e) => e.kind === 'reserve');
      if (!earlier || earlier.userId !== userId) throw new Error('reserve: this message key belongs to another identity');
      return { reservation: { ...base, amount: -earlier.amount, state: creditState(entries), existing: true } };
    }
    if (!result.held) {
      const balance = result.balance ?? 0;
      return {
        refused: async () =>
          new AppException(ErrorCode.INSUFFICIENT_BALANCE, `This request needs up to ${amount} credits; ${balance} are available`, {
            credits_balance: balance,
            credits_required: amount,
          }),
      };
    }
    return { reservation: { ...base, amount, state: 'held', existing: false } };
  }

  private async countAnonymous(q: Queryable, input: ReserveInput, anonId: string): Promise<ReserveOutcome> {
    const clientAddress = quotaAddress(input.ip);
    const base = { messageKey: input.messageKey, identity: input.identity, model: input.model, amount: 0 };
    const anonLimit = this.config.anonMessageLimit;
    const addressLimit = this.config.anonIpMessageLimit;
    // Serialise per anon id and per address, so the counts below cannot be read by two
    // requests that both then insert.
    this.anonUsage.lock(q, anonId, clientAddress).catch(() => undefined);
    const result = await this.anonUsage.reserve(q, { anonId, clientAddress, messageKey: input.messageKey, anonLimit, addressLimit, windowMs: ANON_WINDOW_MS });
    if (result.inserted) return { reservation: { ...base, clientAddress, state: 'held', existing: false } };

    const anonFull = result.anonUsed >= anonLimit;
    const addressFull = clientAddress !== null && result.addressUsed >= addressLimit;
    if (!anonFull && !addressFull) {
      // The key was recorded before (perhaps under another address, which we did not lock).
      const existing = await this.anonUsage.findByKey(q, input.messageKey);
      if (!existing) throw new Error('reserve: anonymous usage row vanished');
      return { reservation: this.existingAnon(existing, anonId, base) };
    }
    return {
      refused: async () => {
        const refusals: (Date | null)[] = [];
        if (anonFull) refusals.push(await this.freesAt(q, { anonId }, { used: result.anonUsed, limit: anonLimit }));
        if (addressFull) refusals.push(await this.freesAt(q, { clientAddress: clientAddress! }, { used: result.addressUsed, limit: addressLimit }));
        // The later of the two: before then at least one quota still refuses.
        const known = refusals.filter((d): d is Date => d !== null);
        const resetsAt = known.length === refusals.length ? windowEnd(new Date(Math.max(...known.map((d) => d.getTime())))) : null;
        return new AppException(
          ErrorCode.ANON_LIMIT_REACHED,
          resetsAt
            ? `The free message limit is used up; sign up to continue, or try again after ${resetsAt}`
            : 'The free message limit is used up; sign up to continue',
          { resets_at: resetsAt },
        );
      },
    };
  }

  private async freesAt(q: Queryable, scope: AnonScope, usage: { used: number; limit: number }): Promise<Date | null> {
    if (usage.limit === 0) return null;
    return this.anonUsage.createdAtInWindow(q, scope, ANON_WINDOW_MS, entryThatFreesASlot(usage));
  }

  private existingAnon(record: AnonUsageRecord, anonId: string, base: Omit<Reservation, 'clientAddress' | 'state' | 'existing'>): Reservation {
    if (record.anonId !== anonId) throw new Error('reserve: this message key belongs to another identity');
    const state: ReservationState = record.refundedAt ? 'refunded' : record.settledAt ? 'settled' : 'held';
    return { ...base, clientAddress: record.clientAddress, state, existing: true };
  }
}

function windowEnd(createdAt: Date): string {
  return new Date(createdAt.getTime() + ANON_WINDOW_MS).toISOString();
}

function creditState(entries: LedgerEntry[]): ReservationState {
  if (entries.some((e) => e.kind === 'refund')) return 'refunded';
  if (entries.some((e) => e.kind === 'release')) return 'settled';
  return 'held';
}
