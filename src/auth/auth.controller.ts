import { Body, Controller, Get, Headers, HttpCode, Post, UseGuards } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { AuthService } from './auth.service.js';
import { LoginDto, RegisterDto } from './dto/auth.dto.js';
import { isUuid } from './identity.js';
import { CurrentUserId, IdentityGuard, RequireUser } from './identity.guard.js';

@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  // Rate limited per client address, like the message routes: no password guessing at full speed.
  @Post('register')
  @UseGuards(RateLimitGuard)
  register(@Body() dto: RegisterDto, @Headers('x-anon-id') anonId?: string) {
    return this.auth.register(dto, checkAnonId(anonId));
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(RateLimitGuard)
  login(@Body() dto: LoginDto, @Headers('x-anon-id') anonId?: string) {
    return this.auth.login(dto, checkAnonId(anonId));
  }

  @Get('me')
  @RequireUser()
  @UseGuards(IdentityGuard)
  me(@CurrentUserId() userId: string) {
    return this.auth.me(userId);
  }
}

// The visitor whose history moves to the account, if the client says which.
function checkAnonId(anonId: string | undefined): string | undefined {
  if (anonId === undefined || anonId === '') return undefined;
  if (!isUuid(anonId)) throw new AppException(ErrorCode.INVALID_ANON_ID, 'x-anon-id must be a UUID');
  return anonId.toLowerCase();
}
