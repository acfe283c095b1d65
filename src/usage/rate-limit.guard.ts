import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppException } from '../common/errors/app.exception.js';
import { ClientAddress } from './client-address.js';
import { RateLimiter } from './rate-limiter.js';

// config.rateLimitPerMinute requests per user (or per client address for anonymous callers).
// Place it after IdentityGuard: @UseGuards(IdentityGuard, RateLimitGuard); without an identity
// it counts by address. A refusal is RATE_LIMITED with retry_after_ms and a Retry-After header.
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    try {
      await this.limiter.checkRequest(req.identity, ClientAddress.fromRequest(req));
    } catch (error) {
      if (error instanceof AppException && typeof error.details.retry_after_ms === 'number') {
        context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(Math.ceil(error.details.retry_after_ms / 1000)));
      }
      throw error;
    }
    return true;
  }
}
