import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsOptional, IsUUID, Matches, ValidateNested } from 'class-validator';

// POST /internal/emit: whose sockets get the event (exactly one of the three).
export class EmitTarget {
  @IsOptional() @IsUUID() user_id?: string;
  @IsOptional() @IsUUID() anon_id?: string;
  @IsOptional() @IsUUID() chat_id?: string;
}

export class EmitDto {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => EmitTarget)
  target: EmitTarget;

  // Socket.IO's own reserved names cannot be forged from here.
  @Matches(/^(?!(connect|connect_error|disconnect|disconnecting|newListener|removeListener)$)[a-z][a-z0-9_.:-]{0,63}$/i, { message: 'event must be a plain event name' })
  event: string;

  @IsOptional()
  data?: unknown;
}

export class EmitResponse {
  delivered: boolean;
}
