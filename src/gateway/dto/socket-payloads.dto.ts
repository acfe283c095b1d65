import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min, MinLength } from 'class-validator';

import { lower, MAX_PAGE, trim } from '../../common/transforms.js';

export class ListChatsDto {
  @IsOptional() @IsInt() @Min(0) @Max(MAX_PAGE)
  page: number = 0;

  @IsOptional() @IsInt() @Min(1) @Max(100)
  limit: number = 20;
}

export class ListMessagesDto {
  @Transform(lower) @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id: string;

  @IsOptional() @IsInt() @Min(0) @Max(MAX_PAGE)
  page: number = 0;

  @IsOptional() @IsInt() @Min(1) @Max(100)
  limit: number = 50;
}

export class ChatIdDto {
  @Transform(lower) @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id: string;
}

export class RenameChatDto {
  @Transform(lower) @IsUUID('all', { message: 'chat_id must be a UUID' })
  chat_id: string;

  @Transform(trim) @IsString() @MinLength(1, { message: 'title must not be empty' }) @MaxLength(200)
  title: string;
}

export class MessageIdDto {
  @Transform(lower) @IsUUID('all', { message: 'message_id must be a UUID' })
  message_id: string;
}
