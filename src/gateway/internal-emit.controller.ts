import { Body, Controller, HttpCode, Inject, Injectable, Post, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiAcceptedResponse, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiRefusals } from '../openapi/api-docs.js';
import type { Request } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { validationError } from '../common/errors/app.exception.js';
import { ChatsGateway } from './chats.gateway.js';
import { EmitDto, EmitResponse } from './dto/internal-emit.dto.js';

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
@ApiTags('internal')
@Controller('internal')
@UseGuards(InternalApiKeyGuard)
export class InternalEmitController {
  constructor(private readonly gateway: ChatsGateway) {}

  @Post('emit')
  @HttpCode(202)
  @ApiOperation({ summary: "Push an event to a user's, a visitor's or a chat's sockets (other backends; off unless INTERNAL_API_KEY is set)" })
  @ApiHeader({ name: 'x-internal-api-key', required: true, description: 'INTERNAL_API_KEY' })
  @ApiAcceptedResponse({ type: EmitResponse })
  @ApiRefusals('json', ErrorCode.NOT_FOUND, ErrorCode.UNAUTHORIZED, ErrorCode.VALIDATION_ERROR)
  emit(@Body() dto: EmitDto): EmitResponse {
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
