import { Type } from 'class-transformer';
import type { Identity } from '../../auth/identity.js';
import type { SendCommand } from '../generation/generation.service.js';
import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min, MinLength } from 'class-validator';

// The send body, for POST /messages/send and the socket's send_message alike. The upper bound of
// content is MAX_CONTENT_CHARS, checked by the engine; this cap only stops absurd payloads.
export class SendMessageDto {
  @IsOptional() @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id?: string;

  @IsOptional() @IsString() @Length(1, 100)
  model?: string;

  @IsString() @MinLength(1, { message: 'content must not be empty' }) @MaxLength(1_000_000)
  content: string;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  temperature?: number;

  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  @IsOptional() @IsString() @Length(1, 64)
  client_message_id?: string;

  @IsOptional() @IsBoolean()
  keep_generating?: boolean;
}

// The engine's command for a send body, whichever transport received it.
export function sendCommandFrom(dto: SendMessageDto, identity: Identity, ip: string | undefined): SendCommand {
  return {
    identity,
    ip,
    chatId: dto.chat_id,
    model: dto.model,
    content: dto.content,
    temperature: dto.temperature,
    maxTokens: dto.max_tokens,
    clientMessageId: dto.client_message_id,
    keepGenerating: dto.keep_generating,
  };
}

export class RegenerateDto {
  @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id: string;

  @IsOptional() @IsUUID('all', { message: 'message_id must be a UUID' })
  message_id?: string;

  @IsOptional() @IsString() @Length(1, 100)
  model?: string;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  temperature?: number;

  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  @IsOptional() @IsBoolean()
  keep_generating?: boolean;
}

export class TestSseQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(50)
  count: number = 5;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(5000)
  interval_ms: number = 1000;
}

export class MessageIdParam {
  @IsUUID('all', { message: 'message_id must be a UUID' })
  message_id: string;
}
