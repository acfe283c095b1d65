import { Body, Controller, Get, Headers, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiRefusals } from '../openapi/api-docs.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { AuthService } from './auth.service.js';
import { AuthResponse, LoginDto, MeResponse, RegisterDto } from './dto/auth.dto.js';
import { isUuid } from '../common/identity.js';
import { CurrentUserId, IdentityGuard, RequireUser } from './identity.guard.js';

const ANON_HEADER = { name: 'x-anon-id', required: false, description: "The visitor's id: its chats and messages move to the account" };

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  // Rate limited per client address, like the message routes: no password guessing at full speed.
  @Post('register')
  @UseGuards(RateLimitGuard)
  @ApiOperation({ summary: 'Create an account and sign in' })
  @ApiHeader(ANON_HEADER)
  @ApiCreatedResponse({ type: AuthResponse })
  @ApiRefusals('json', ErrorCode.VALIDATION_ERROR, ErrorCode.INVALID_ANON_ID, ErrorCode.EMAIL_TAKEN, ErrorCode.RATE_LIMITED)
  register(@Body() dto: RegisterDto, @Headers('x-anon-id') anonId?: string): Promise<AuthResponse> {
    return this.auth.register(dto, checkAnonId(anonId));
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(RateLimitGuard)
  @ApiOperation({ summary: 'Sign in' })
  @ApiHeader(ANON_HEADER)
  @ApiOkResponse({ type: AuthResponse })
  @ApiRefusals('json', ErrorCode.VALIDATION_ERROR, ErrorCode.INVALID_ANON_ID, ErrorCode.INVALID_CREDENTIALS, ErrorCode.RATE_LIMITED)
  login(@Body() dto: LoginDto, @Headers('x-anon-id') anonId?: string): Promise<AuthResponse> {
    return this.auth.login(dto, checkAnonId(anonId));
  }

  @Get('me')
  @RequireUser()
  @UseGuards(IdentityGuard)
  @ApiOperation({ summary: 'The signed-in user and their usage' })
  @ApiBearerAuth('bearer')
  @ApiOkResponse({ type: MeResponse })
  @ApiRefusals('json', ErrorCode.UNAUTHORIZED)
  me(@CurrentUserId() userId: string): Promise<MeResponse> {
    return this.auth.me(userId);
  }
}

// The visitor whose history moves to the account, if the client says which.
function checkAnonId(anonId: string | undefined): string | undefined {
  if (anonId === undefined || anonId === '') return undefined;
  if (!isUuid(anonId)) throw new AppException(ErrorCode.INVALID_ANON_ID, 'x-anon-id must be a UUID');
  return anonId.toLowerCase();
}
