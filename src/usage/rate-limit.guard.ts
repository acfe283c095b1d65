import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { ClientAddress } from './client-address.js';
import { RateLimiter } from './rate-limiter.js';

// config.rateLimitPerMinute requests per user (or per client address for anonymous callers).
// Place it after IdentityGuard: @UseGuards(IdentityGuard, RateLimitGuard); without an identity
// it counts by address. A refusal is RATE_LIMITED with retry_after_ms (the HTTP filter turns it
// into a Retry-After header).
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    await this.limiter.checkRequest(req.identity, ClientAddress.fromRequest(req));
    return true;
  }
}
