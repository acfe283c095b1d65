import { Transform } from 'class-transformer';
import { trim } from '../../common/transforms.js';
import { IsEmail, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { UsageInfo } from '../../usage/usage-info.js';

export class RegisterDto {
  @Transform(trim) @IsEmail({}, { message: 'email must be an email address' }) @MaxLength(320)
  email: string;

  @IsString() @MinLength(8, { message: 'password must be at least 8 characters' }) @MaxLength(200)
  password: string;

  @IsOptional() @Transform(trim) @IsString() @MinLength(1) @MaxLength(100)
  name?: string;
}

export class LoginDto {
  @Transform(trim) @IsEmail({}, { message: 'email must be an email address' }) @MaxLength(320)
  email: string;

  @IsString() @MinLength(1) @MaxLength(200)
  password: string;
}

export class UserView {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
}

// Register and login: a bearer token for the Authorization header.
export class AuthResponse {
  access_token: string;
  token_type: 'Bearer';
  // Seconds until the token expires.
  expires_in: number;
  user: UserView;
}

export class MeResponse {
  user: UserView;
  usage: UsageInfo;
}
