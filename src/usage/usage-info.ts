// The contract's usage_info payload.
export class UsageInfo {
  identity: 'anonymous' | 'user';
  user_id?: string;
  anon_id?: string;
  messages_used: number;
  messages_limit: number | null;
  messages_remaining: number | null;
  resets_at: string | null;
  credits_balance?: number;
  credits_reserved?: number;
}
