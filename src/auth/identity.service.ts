import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { isUuid, type Identity } from '../common/identity.js';
import { TokenService } from './token.service.js';

export interface IdentityInput {
  // The bearer token, without "Bearer ".
  token?: string;
  anonId?: string;
}

export interface ResolvedIdentity {
  identity: Identity;
  // True when the server made up a new anonymous id, which the client must be told.
  minted: boolean;
  // When the token stops being valid (ms since the epoch), for a signed-in user.
  expiresAt?: number;
}

// The one place that turns credentials into an identity, for HTTP and for socket handshakes.
@Injectable()
export class IdentityService {
  constructor(private readonly tokens: TokenService) {}

  resolve(input: IdentityInput, { mint }: { mint: boolean }): ResolvedIdentity {
    if (input.token !== undefined) {
      const { userId, expiresAt } = this.tokens.claims(input.token);
      return { identity: { kind: 'user', userId }, minted: false, expiresAt };
    }
    if (input.anonId !== undefined) {
      if (!isUuid(input.anonId)) throw new AppException(ErrorCode.INVALID_ANON_ID, 'x-anon-id must be a UUID');
      return { identity: { kind: 'anonymous', anonId: input.anonId.toLowerCase() }, minted: false };
    }
    if (!mint) throw new AppException(ErrorCode.IDENTITY_REQUIRED, 'A token or an anonymous id is required');
    return { identity: { kind: 'anonymous', anonId: randomUUID() }, minted: true };
  }

  // Reads an Authorization header value. A header that is present but not a bearer token is a
  // bad credential, not an absent one.
  static bearer(header: string | undefined): string | undefined {
    if (header === undefined || header === '') return undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AppException(ErrorCode.UNAUTHORIZED, 'Authorization must be "Bearer <token>"');
    return match[1];
  }
}
