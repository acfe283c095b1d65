import { Global, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { ChatsModule } from '../chats/chats.module.js';
import { APP_CONFIG } from '../common/core.module.js';
import type { AppConfig } from '../config/app-config.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { ProjectsModule } from '../projects/projects.module.js';
import { UsageModule } from '../usage/usage.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { IdentityGuard } from './identity.guard.js';
import { IdentityService } from './identity.service.js';
import { loadJwtSecret } from './jwt-secret.js';
import { TokenService } from './token.service.js';

// Global: the identity pieces are used by every transport.
@Global()
@Module({
  imports: [
    UsersModule,
    ChatsModule,
    ProjectsModule,
    DocumentsModule,
    UsageModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => ({
        secret: await loadJwtSecret(config),
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, TokenService, IdentityService, IdentityGuard],
  exports: [TokenService, IdentityService, IdentityGuard],
})
export class AuthModule {}
