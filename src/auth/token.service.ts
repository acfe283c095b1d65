import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { isUuid } from '../common/identity.js';

// Only HS256 is accepted: `alg: none` and algorithm-confusion tokens are refused by the verifier.
export const JWT_ALGORITHM = 'HS256';

@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  sign(userId: string): { access_token: string; token_type: 'Bearer'; expires_in: number } {
    const token = this.jwt.sign({ sub: userId }, { algorithm: JWT_ALGORITHM, expiresIn: this.config.jwtExpiresInSeconds });
    return { access_token: token, token_type: 'Bearer', expires_in: this.config.jwtExpiresInSeconds };
  }

  // The user id of a valid token, and when it stops being valid (ms since the epoch: a
  // long-lived socket is let go then); UNAUTHORIZED for anything else.
  claims(token: string): { userId: string; expiresAt?: number } {
    try {
      const payload = this.jwt.verify<{ sub?: unknown; exp?: unknown }>(token, { algorithms: [JWT_ALGORITHM] });
      if (typeof payload.sub === 'string' && isUuid(payload.sub)) {
        return { userId: payload.sub, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
      }
    } catch {
      // expired, malformed, wrong signature or algorithm: all the same answer
    }
    throw new AppException(ErrorCode.UNAUTHORIZED, 'Invalid or expired token');
  }
}
