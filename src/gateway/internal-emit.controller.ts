import { Body, Controller, HttpCode, Inject, Injectable, Post, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { IsDefined, IsObject, IsOptional, IsUUID, Matches, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { validationError } from '../common/errors/app.exception.js';
import { ChatsGateway } from './chats.gateway.js';

class EmitTarget {
  @IsOptional() @IsUUID() user_id?: string;
  @IsOptional() @IsUUID() anon_id?: string;
  @IsOptional() @IsUUID() chat_id?: string;
}

class EmitDto {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => EmitTarget)
  target: EmitTarget;

  // Socket.IO's own reserved names cannot be forged from here.
  @Matches(/^(?!(connect|connect_error|disconnect|disconnecting|newListener|removeListener)$)[a-z][a-z0-9_.:-]{0,63}$/i, { message: 'event must be a plain event name' })
  event: string;

  @IsOptional()
  data?: unknown;
}

// Checked before the body is validated: without the key nothing about the endpoint is revealed.
// Off (404) unless INTERNAL_API_KEY is set; the key goes in the x-internal-api-key header.
@Injectable()
export class InternalApiKeyGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.internalApiKey;
    if (!expected) throw new AppException(ErrorCode.NOT_FOUND, 'Not found');
    const key = context.switchToHttp().getRequest<Request>().headers['x-internal-api-key'];
    if (typeof key !== 'string' || !safeEqual(key, expected)) throw new AppException(ErrorCode.UNAUTHORIZED, 'A valid x-internal-api-key is required');
    return true;
  }
}

// For other backends: push an event to a user's, a visitor's or a chat's sockets, on any instance.
@Controller('internal')
@UseGuards(InternalApiKeyGuard)
export class InternalEmitController {
  constructor(private readonly gateway: ChatsGateway) {}

  @Post('emit')
  @HttpCode(202)
  emit(@Body() dto: EmitDto) {
    const { user_id, anon_id, chat_id } = dto.target;
    if ([user_id, anon_id, chat_id].filter(Boolean).length !== 1) throw validationError('target must name exactly one of user_id, anon_id, chat_id');
    this.gateway.emitTo({ userId: user_id, anonId: anon_id, chatId: chat_id }, dto.event, dto.data ?? null);
    return { delivered: true };
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
