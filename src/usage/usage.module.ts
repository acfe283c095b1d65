import { Module } from '@nestjs/common';
import { AnonUsageRepository } from './anon-usage.repository.js';
import { CreditsRepository } from './credits.repository.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimiter } from './rate-limiter.js';
import { UsageService } from './usage.service.js';

// Entities are registered in src/database/data-source.ts; the repositories use the DataSource.
@Module({
  providers: [CreditsRepository, AnonUsageRepository, UsageService, RateLimiter, RateLimitGuard],
  exports: [UsageService, RateLimiter, RateLimitGuard],
})
export class UsageModule {}
