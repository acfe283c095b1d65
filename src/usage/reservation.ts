import type { Identity } from '../common/identity.js';
import type { ModelPrice } from './usage-rules.js';

// held: the generation may run; settled / refunded: an earlier call with this message key
// already finished it (reserve returns the existing reservation, it never counts twice).
export type ReservationState = 'held' | 'settled' | 'refunded';

export interface Reservation {
  messageKey: string;
  identity: Identity;
  model: ModelPrice;
  // Credits held for a user's generation; 0 for an anonymous visitor.
  amount: number;
  // The address counted for an anonymous message (IPv4, or an IPv6 /64), null when unknown.
  clientAddress: string | null;
  state: ReservationState;
  // True when this key had already been reserved and the existing reservation was returned.
  existing: boolean;
}

export interface SettleOutcome {
  // What the provider reported, or the engine's count of what was produced when the stream
  // was cut (then estimated is true). null: unknown, the whole hold is charged as an estimate.
  usage: { inputTokens: number; outputTokens: number } | null;
  estimated: boolean;
  // Nothing is charged and the anonymous message no longer counts (e.g. the provider failed
  // before producing anything).
  refund: boolean;
}
