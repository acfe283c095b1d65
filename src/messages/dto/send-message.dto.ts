import { Transform, Type } from 'class-transformer';
import { lower } from '../../common/transforms.js';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import type { Identity } from '../../common/identity.js';
import type { SendCommand } from '../generation/send-message.use-case.js';
import type { SendMessageDto } from './stream-bodies.dto.js';

export { RegenerateDto, SendMessageDto } from './stream-bodies.dto.js';

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
    // Lower case, as ids are compared and rooms named.
    projectId: dto.project_id?.toLowerCase(),
    useDocuments: dto.use_documents,
  };
}

export class TestSseQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(50)
  count: number = 5;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(5000)
  interval_ms: number = 1000;
}

export class MessageIdParam {
  @Transform(lower) @IsUUID('all', { message: 'message_id must be a UUID' })
  message_id: string;
}

export class StopResponse {
  message_id: string;
  // The stored status when the answer ran here ("stopped", or how it had ended); "stopping"
  // when another instance was told to stop it.
  status: string;
}

export class TestSseMessage {
  counter: number;
  message: string;
  timestamp: string;
}

export class TestSseComplete {
  message: string;
}
