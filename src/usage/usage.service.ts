import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Identity } from '../auth/identity.js';
import { APP_CONFIG } from '../common/core.module.js';
import type { AppConfig } from '../config/app-config.js';
import type { UsageInfo } from './usage-info.js';

// Quotas and credits. This first version counts an anonymous visitor's messages of the last 24 h
// from the messages table; the ledger-backed version replaces it.
@Injectable()
export class UsageService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  // Called once when an account is created. Credits arrive with the ledger.
  async grantInitialCredits(_userId: string): Promise<void> {}

  async describe(identity: Identity): Promise<UsageInfo> {
    if (identity.kind === 'user') {
      return { identity: 'user', user_id: identity.userId, messages_used: 0, messages_limit: null, messages_remaining: null, resets_at: null };
    }
    const rows: { used: string; oldest: Date | null }[] = await this.dataSource.query(
      `SELECT count(*) AS used, min(m.created_at) AS oldest FROM messages m JOIN chats c ON c.id = m.chat_id
       WHERE c.anon_id = $1 AND m.role = 'user' AND m.created_at > now() - interval '24 hours'`,
      [identity.anonId],
    );
    const used = Number(rows[0].used);
    const limit = this.config.anonMessageLimit;
    const oldest = rows[0].oldest;
    return {
      identity: 'anonymous',
      anon_id: identity.anonId,
      messages_used: used,
      messages_limit: limit,
      messages_remaining: Math.max(0, limit - used),
      resets_at: new Date((oldest?.getTime() ?? Date.now()) + 86_400_000).toISOString(),
    };
  }
}
