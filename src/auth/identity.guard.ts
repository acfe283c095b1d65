import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { Identity } from '../common/identity.js';
import { IdentityService } from './identity.service.js';

declare module 'express-serve-static-core' {
  interface Request {
    identity?: Identity;
  }
}

const REQUIRE_USER = 'identity:require-user';

// Only a signed-in user may call this route.
export const RequireUser = () => SetMetadata(REQUIRE_USER, true);

// Resolves the caller on every route it guards: bearer token, else x-anon-id, else a fresh
// anonymous id. An anonymous caller always gets its id back in the x-anon-id header.
@Injectable()
export class IdentityGuard implements CanActivate {
  constructor(
    private readonly identities: IdentityService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const token = IdentityService.bearer(req.header('authorization'));
    const userOnly = this.reflector.getAllAndOverride<boolean>(REQUIRE_USER, [context.getHandler(), context.getClass()]);
    if (userOnly && token === undefined) throw new AppException(ErrorCode.UNAUTHORIZED, 'A bearer token is required');
    const { identity } = this.identities.resolve({ token, anonId: req.header('x-anon-id') }, { mint: true });
    req.identity = identity;
    if (identity.kind === 'anonymous') res.setHeader('x-anon-id', identity.anonId);
    return true;
  }
}

export const CurrentIdentity = createParamDecorator((_: unknown, context: ExecutionContext): Identity => {
  const identity = context.switchToHttp().getRequest<Request>().identity;
  if (!identity) throw new Error('CurrentIdentity used on a route without IdentityGuard');
  return identity;
});

// The signed-in user's id, on a route marked @RequireUser().
export const CurrentUserId = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const identity = context.switchToHttp().getRequest<Request>().identity;
  if (identity?.kind !== 'user') throw new AppException(ErrorCode.UNAUTHORIZED, 'A bearer token is required');
  return identity.userId;
});
