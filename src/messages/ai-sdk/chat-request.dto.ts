import { Type } from 'class-transformer';
import { Allow, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';

// What the AI SDK's DefaultChatTransport (useChat) sends to POST /api/v1/chat: its own fields
// (id, messages, trigger, messageId) and whatever the app passed as `body`.

// One part of a UI message. Only text parts are read; the others (files, sources, tool calls,
// reasoning) are taken as they come and left alone.
export class UiMessagePartDto {
  // "text", "file", "source-document", "reasoning", "tool-…", "data-…"
  type: string;
  // For a text part: its text.
  text?: string;
}

export class UiMessageDto {
  @IsString() @Length(1, 200)
  id: string;

  @IsIn(['system', 'user', 'assistant'])
  role: 'system' | 'user' | 'assistant';

  // The app's own metadata; not read.
  @Allow()
  metadata?: unknown;

  // Not validated one by one: a part's fields depend on its type and on the SDK's version.
  @IsArray() @IsObject({ each: true })
  parts: UiMessagePartDto[];
}

export class ChatRequestDto {
  // The client's chat id: any string (useChat generates one), mapped to one chat of the identity.
  @IsString() @Length(1, 64) @Matches(/^(?!\.\.?$)/, { message: 'id must not be "." or ".."' })
  id: string;

  // The client's copy of the conversation. Only its newest user message is read: the model gets
  // the history stored on the server.
  @IsArray() @ArrayMinSize(1) @ValidateNested({ each: true }) @Type(() => UiMessageDto)
  messages: UiMessageDto[];

  // Absent: submit-message.
  @IsOptional() @IsIn(['submit-message', 'regenerate-message'])
  trigger?: 'submit-message' | 'regenerate-message';

  // The message to regenerate (the SDK's spelling); editing a sent message is not supported.
  @IsOptional() @IsString() @MaxLength(200)
  messageId?: string;

  // The same, spelled as the rest of this API.
  @IsOptional() @IsString() @MaxLength(200)
  message_id?: string;

  // Keep generating when this client goes away, so that `resume: true` can pick the answer up.
  @IsOptional() @IsBoolean()
  keep_generating?: boolean;

  @IsOptional() @IsString() @Length(1, 100)
  model?: string;

  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  temperature?: number;

  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  // Idempotency key; absent, the newest user message's id (with the chat id) is the key, so a
  // retry of one message never runs or bills twice.
  @IsOptional() @IsString() @Length(1, 64)
  client_message_id?: string;
}

export class ClientChatIdParam {
  @IsString() @Length(1, 64)
  id: string;
}
