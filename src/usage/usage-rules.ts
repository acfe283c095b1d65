import type { ModelConfig } from '../config/app-config.js';

// The arithmetic of quotas and credits, kept apart from the database so it can be unit-tested.

export const ANON_WINDOW_MS = 24 * 60 * 60 * 1000;

export type ModelPrice = Pick<ModelConfig, 'id' | 'inputPrice' | 'outputPrice'>;

// Prices are credits per 1000 tokens and may be fractional; a started credit is a whole credit.
export function creditsFor(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  const exact = (Math.max(0, inputTokens) * price.inputPrice + Math.max(0, outputTokens) * price.outputPrice) / 1000;
  // Float noise (0.1 * 3 = 0.30000000000000004) must not add a credit.
  return Math.max(0, Math.ceil(exact - 1e-9));
}

// What a generation may cost at most: the whole prompt plus max_tokens of output.
export function estimateCredits(price: ModelPrice, inputTokens: number, maxTokens: number): number {
  return creditsFor(price, inputTokens, maxTokens);
}

// The charge when a generation settles. The hold is released first, so the user can pay up to
// held + available. We chose to cap there rather than at the hold alone: a provider reporting
// more input tokens than our estimate is billed from the free balance when there is some, and
// only what exceeds everything the user has is forgiven (the balance never goes below zero).
export function settleCharge(wanted: number, held: number, available: number): { charged: number; capped: boolean } {
  const ceiling = held + Math.max(0, available);
  return wanted > ceiling ? { charged: ceiling, capped: true } : { charged: Math.max(0, wanted), capped: false };
}

export interface WindowUsage {
  used: number;
  limit: number;
}

export function remaining({ used, limit }: WindowUsage): number {
  return Math.max(0, limit - used);
}

// With `used` of `limit` taken, another message fits once the (used - limit + 1)-th oldest
// counted message has left the window: that entry's index, 0-based (the oldest when not over).
export function entryThatFreesASlot({ used, limit }: WindowUsage): number {
  return Math.max(0, used - limit);
}
