import { Inject, Injectable } from '@nestjs/common';
import type { Identity } from '../auth/identity.js';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';
import { AnonUsageRepository, type AnonScope, type AnonUsageRecord, type AnonUsageTransaction } from './anon-usage.repository.js';
import { quotaAddress } from './client-address.js';
import { CreditsRepository, type AccountBalance, type LedgerEntry } from './credits.repository.js';
import type { Reservation, ReservationState, SettleOutcome } from './reservation.js';
import type { UsageInfo } from './usage-info.js';
import {
  ANON_WINDOW_MS,
  creditsFor,
  entryThatFreesASlot,
  estimateCredits,
  remaining,
  settleCharge,
  type ModelPrice,
} from './usage-rules.js';

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

export interface GrantResult {
  entry: LedgerEntry;
  account: AccountBalance;
}

const MAX_GRANT = 1_000_000_000_000;

// Quotas for anonymous visitors and credits for users. The rules live here; the queries in
// credits.repository.ts and anon-usage.repository.ts.
@Injectable()
export class UsageService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly credits: CreditsRepository,
    private readonly anonUsage: AnonUsageRepository,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  // Throws ANON_LIMIT_REACHED or INSUFFICIENT_BALANCE; then nothing was counted or held.
  async reserve(input: ReserveInput): Promise<Reservation> {
    if (!input.messageKey || input.messageKey.length > 100) throw new Error('reserve: messageKey must be 1..100 characters');
    return input.identity.kind === 'user'
      ? this.reserveCredits(input, input.identity.userId)
      : this.reserveAnonymous(input, input.identity.anonId);
  }

  // Idempotent per message key: a second settle of the same key changes nothing.
  async settle(reservation: Reservation, outcome: SettleOutcome): Promise<void> {
    if (reservation.identity.kind === 'anonymous') {
      // Counted at reserve; a refund takes the message out of the window counts.
      if (outcome.refund) await this.anonUsage.markRefunded(reservation.messageKey);
      else await this.anonUsage.markSettled(reservation.messageKey);
      return;
    }
    const userId = reservation.identity.userId;
    await this.credits.transaction(async (tx) => {
      const hold = await tx.lockReservation(reservation.messageKey);
      if (!hold || hold.userId !== userId) {
        this.logger.warn({ message_key: reservation.messageKey }, 'settle: no credit reservation with this key');
        return;
      }
      const entries = await tx.findEntriesByKey(reservation.messageKey);
      if (entries.some((e) => e.kind === 'release' || e.kind === 'refund')) return;
      const held = -hold.amount;
      const common = { userId, messageKey: reservation.messageKey, model: hold.model };

      if (outcome.refund) {
        await tx.insertEntry({ ...common, kind: 'refund', amount: held, note: 'generation failed: hold returned' });
        await tx.adjustAccount(userId, held, -held);
        return;
      }
      const account = await tx.lockAccount(userId);
      const usage = outcome.usage;
      // Unknown usage: the hold (the most it could have cost) is charged, marked estimated.
      const wanted = usage ? creditsFor(reservation.model, usage.inputTokens, usage.outputTokens) : held;
      const { charged, capped } = settleCharge(wanted, held, account?.balance ?? 0);
      if (capped) this.logger.warn({ user_id: userId, message_key: reservation.messageKey, wanted, charged }, 'charge capped at the available credits');
      await tx.insertEntry({ ...common, kind: 'release', amount: held });
      await tx.insertEntry({
        ...common,
        kind: 'charge',
        amount: -charged,
        inputTokens: usage?.inputTokens ?? null,
        outputTokens: usage?.outputTokens ?? null,
        estimated: outcome.estimated || usage === null,
        note: capped ? `capped: ${wanted} due, ${charged} available` : null,
      });
      await tx.adjustAccount(userId, held - charged, -held);
    });
  }

  // Anonymous: the quota of the rolling 24 h (with `ip`, messages_remaining also honours the
  // address quota). Users: messages_used counts the generations charged in the last 24 h;
  // there is no message limit (credits are the limit), so limit, remaining and resets_at are
  // null; credits_balance is what can still be spent, credits_reserved what running
  // generations hold.
  async describe(identity: Identity, options: { ip?: string } = {}): Promise<UsageInfo> {
    if (identity.kind === 'user') {
      const [account, used] = await Promise.all([
        this.credits.findAccount(identity.userId),
        this.credits.countChargesSince(identity.userId, ANON_WINDOW_MS),
      ]);
      return {
        identity: 'user',
        user_id: identity.userId,
        messages_used: used,
        messages_limit: null,
        messages_remaining: null,
        resets_at: null,
        credits_balance: account?.balance ?? 0,
        credits_reserved: account?.reserved ?? 0,
      };
    }
    const limit = this.config.anonMessageLimit;
    const scope = { anonId: identity.anonId };
    const used = await this.anonUsage.countInWindow(scope, ANON_WINDOW_MS);
    let left = remaining({ used, limit });
    const address = quotaAddress(options.ip);
    if (address) {
      const addressUsed = await this.anonUsage.countInWindow({ clientAddress: address }, ANON_WINDOW_MS);
      left = Math.min(left, remaining({ used: addressUsed, limit: this.config.anonIpMessageLimit }));
    }
    // When the next slot frees up: the oldest counted message's 24 h end (null: none counted).
    const frees = used === 0 ? null : await this.anonUsage.createdAtInWindow(scope, ANON_WINDOW_MS, entryThatFreesASlot({ used, limit }));
    return {
      identity: 'anonymous',
      anon_id: identity.anonId,
      messages_used: used,
      messages_limit: limit,
      messages_remaining: left,
      resets_at: frees ? windowEnd(frees) : null,
    };
  }

  // USER_INITIAL_CREDITS, once per user (keyed, so a repeated call grants nothing more).
  async grantInitialCredits(userId: string): Promise<void> {
    const amount = this.config.userInitialCredits;
    await this.credits.transaction(async (tx) => {
      await tx.ensureAccount(userId);
      if (amount === 0) return;
      const entry = await tx.insertEntry({ userId, kind: 'grant', amount, messageKey: `signup:${userId}`, note: 'initial credits' });
      if (entry) await tx.adjustAccount(userId, amount, 0);
    });
  }

  // An operator's grant (credits-cli): a positive whole number of credits.
  async grant(userId: string, amount: number, note?: string): Promise<GrantResult> {
    if (!Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_GRANT) {
      throw new AppException(ErrorCode.VALIDATION_ERROR, `amount must be a whole number from 1 to ${MAX_GRANT}`);
    }
    return this.credits.transaction(async (tx) => {
      await tx.ensureAccount(userId);
      const entry = await tx.insertEntry({ userId, kind: 'grant', amount, note: note ?? null });
      const account = await tx.adjustAccount(userId, amount, 0);
      return { entry: entry!, account };
    });
  }

  // For operators: the account and its latest ledger rows, newest first.
  async statement(userId: string, limit = 100): Promise<{ account: AccountBalance; ledgerBalance: number; entries: LedgerEntry[]; total: number }> {
    const [account, ledgerBalance, { entries, total }] = await Promise.all([
      this.credits.findAccount(userId),
      this.credits.ledgerBalance(userId),
      this.credits.listEntries(userId, limit),
    ]);
    return { account: account ?? { balance: 0, reserved: 0 }, ledgerBalance, entries, total };
  }

  private async reserveCredits(input: ReserveInput, userId: string): Promise<Reservation> {
    const amount = estimateCredits(input.model, input.inputTokens, input.maxTokens);
    const base = { messageKey: input.messageKey, identity: input.identity, model: input.model, clientAddress: null };
    return this.credits.transaction(async (tx) => {
      // The reserve row first: a second reserve of this key waits here for the first one's
      // transaction, then finds its row and returns it instead of holding again.
      const entry = await tx.insertEntry({
        userId,
        kind: 'reserve',
        amount: -amount,
        messageKey: input.messageKey,
        model: input.model.id,
        inputTokens: input.inputTokens,
        outputTokens: input.maxTokens,
        note: 'hold for up to max_tokens of output',
      });
      if (!entry) {
        const entries = await tx.findEntriesByKey(input.messageKey);
        const hold = entries.find((e) => e.kind === 'reserve');
        if (!hold || hold.userId !== userId) throw new Error('reserve: this message key belongs to another identity');
        return { ...base, amount: -hold.amount, state: creditState(entries), existing: true };
      }
      let account = await tx.holdIfAvailable(userId, amount);
      if (!account && amount === 0) {
        // An account made before credits existed: a free model still runs.
        await tx.ensureAccount(userId);
        account = await tx.holdIfAvailable(userId, amount);
      }
      if (!account) {
        const current = await tx.findAccount(userId);
        throw new AppException(
          ErrorCode.INSUFFICIENT_BALANCE,
          `This request needs up to ${amount} credits; ${current?.balance ?? 0} are available`,
          { credits_balance: current?.balance ?? 0, credits_required: amount },
        );
      }
      return { ...base, amount, state: 'held', existing: false };
    });
  }

  private async reserveAnonymous(input: ReserveInput, anonId: string): Promise<Reservation> {
    const clientAddress = quotaAddress(input.ip);
    const base = { messageKey: input.messageKey, identity: input.identity, model: input.model, amount: 0 };
    return this.anonUsage.transaction(async (tx) => {
      // Serialise per anon id and per address (always in this order: no lock cycles), so the
      // counts below cannot be read by two requests that both then insert.
      await tx.lockAnonId(anonId);
      if (clientAddress) await tx.lockAddress(clientAddress);

      const existing = await tx.findByKey(input.messageKey);
      if (existing) return this.existingAnon(existing, anonId, base);

      const refusals: (Date | null)[] = [];
      const anonScope = { anonId };
      const anonLimit = this.config.anonMessageLimit;
      const anonUsed = await tx.countInWindow(anonScope, ANON_WINDOW_MS);
      if (anonUsed >= anonLimit) refusals.push(await freesAt(tx, anonScope, { used: anonUsed, limit: anonLimit }));
      if (clientAddress) {
        const addressScope = { clientAddress };
        const addressLimit = this.config.anonIpMessageLimit;
        const addressUsed = await tx.countInWindow(addressScope, ANON_WINDOW_MS);
        if (addressUsed >= addressLimit) refusals.push(await freesAt(tx, addressScope, { used: addressUsed, limit: addressLimit }));
      }
      if (refusals.length > 0) {
        // The later of the two: before then at least one quota still refuses.
        const known = refusals.filter((d): d is Date => d !== null);
        const resetsAt = known.length === refusals.length ? windowEnd(new Date(Math.max(...known.map((d) => d.getTime())))) : null;
        throw new AppException(
          ErrorCode.ANON_LIMIT_REACHED,
          resetsAt
            ? `The free message limit is used up; sign up to continue, or try again after ${resetsAt}`
            : 'The free message limit is used up; sign up to continue',
          { resets_at: resetsAt },
        );
      }

      const inserted = await tx.insert({ anonId, clientAddress, messageKey: input.messageKey });
      if (!inserted) {
        // The same key recorded meanwhile under another address (which we did not lock).
        const raced = await tx.findByKey(input.messageKey);
        if (!raced) throw new Error('reserve: anonymous usage row vanished');
        return this.existingAnon(raced, anonId, base);
      }
      return { ...base, clientAddress, state: 'held', existing: false };
    });
  }

  private existingAnon(record: AnonUsageRecord, anonId: string, base: Omit<Reservation, 'clientAddress' | 'state' | 'existing'>): Reservation {
    if (record.anonId !== anonId) throw new Error('reserve: this message key belongs to another identity');
    const state: ReservationState = record.refundedAt ? 'refunded' : record.settledAt ? 'settled' : 'held';
    return { ...base, clientAddress: record.clientAddress, state, existing: true };
  }
}

async function freesAt(tx: AnonUsageTransaction, scope: AnonScope, usage: { used: number; limit: number }): Promise<Date | null> {
  if (usage.limit === 0) return null;
  return tx.createdAtInWindow(scope, ANON_WINDOW_MS, entryThatFreesASlot(usage));
}

function windowEnd(createdAt: Date): string {
  return new Date(createdAt.getTime() + ANON_WINDOW_MS).toISOString();
}

function creditState(entries: LedgerEntry[]): ReservationState {
  if (entries.some((e) => e.kind === 'refund')) return 'refunded';
  if (entries.some((e) => e.kind === 'release')) return 'settled';
  return 'held';
}
