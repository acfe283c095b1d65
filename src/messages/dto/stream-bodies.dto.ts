import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min, MinLength } from 'class-validator';
import { lower } from '../../common/transforms.js';

// The request bodies of the send stream, in a file of their own (send-message.dto.ts re-exports
// them) so that the typed client (client/) takes their types without pulling in the engine.
// Ids are taken in lower case, as the server names rooms and compares ids with them.

// The send body, for POST /messages/send and the socket's send_message alike. The upper bound of
// content is MAX_CONTENT_CHARS, checked by the engine; this cap only stops absurd payloads.
export class SendMessageDto {
  @IsOptional() @Transform(lower) @IsUUID('all', { message: 'chat_id must be a UUID' })
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

  // For a new chat: the project it belongs to (its documents are searched). Ignored for an existing chat.
  @IsOptional() @Transform(lower) @IsUUID('all', { message: 'project_id must be a UUID' })
  project_id?: string;

  // Default true: search the chat's project's documents (with no project, the identity's
  // documents outside any project) and answer with sources.
  @IsOptional() @IsBoolean()
  use_documents?: boolean;
}

export class RegenerateDto {
  @Transform(lower) @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id: string;

  @IsOptional() @Transform(lower) @IsUUID('all', { message: 'message_id must be a UUID' })
  message_id?: string;

  @IsOptional() @IsString() @Length(1, 100)
  model?: string;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  temperature?: number;

  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  @IsOptional() @IsBoolean()
  keep_generating?: boolean;

  // Default true: search the documents again for the new answer.
  @IsOptional() @IsBoolean()
  use_documents?: boolean;
}
