import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module.js';
import { ChatsModule } from './chats/chats.module.js';
import { CoreModule } from './common/core.module.js';
import type { AppLogger } from './common/logging/logger.js';
import type { AppConfig } from './config/app-config.js';
import { dataSourceOptions } from './database/data-source.js';
import { SqlModule } from './database/sql.module.js';
import { DocumentsModule } from './documents/documents.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { MessagesModule } from './messages/messages.module.js';
import { ApiDocsModule } from './openapi/api-docs.module.js';
import { ProjectsModule } from './projects/projects.module.js';
import { RedisModule } from './redis/redis.module.js';
import { UsageModule } from './usage/usage.module.js';
import { UsersModule } from './users/users.module.js';
import { WebModule } from './web/web.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: AppLogger, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        TypeOrmModule.forRoot({ ...dataSourceOptions(databaseUrl, { size: config.databasePoolSize }), retryAttempts: 3, retryDelay: 1000 }),
        SqlModule,
        RedisModule,
        HealthModule,
        MetricsModule,
        UsersModule,
        ChatsModule,
        UsageModule,
        AuthModule,
        ProjectsModule,
        DocumentsModule,
        MessagesModule,
        GatewayModule,
        WebModule,
        ApiDocsModule,
      ],
    };
  }
}
