import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { AppSocketIoAdapter } from './gateway/socket-io.adapter.js';
import { RedisService } from './redis/redis.service.js';
import { HttpExceptionFilter } from './common/http/http-exception.filter.js';
import { requestIdMiddleware } from './common/http/request-id.middleware.js';
import { NestPinoLogger, type AppLogger } from './common/logging/logger.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/app-config.js';

// Builds the Nest application with everything every entry point needs (main.ts and tests alike).
export async function createApp(config: AppConfig, logger: AppLogger, databaseUrl: string): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger, databaseUrl), {
    logger: new NestPinoLogger(logger),
    bodyParser: false,
  });
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(requestIdMiddleware(logger));
  // 4 bytes per character at most, plus the JSON around the content.
  app.useBodyParser('json', { limit: config.maxContentChars * 4 + 16_384 });
  app.enableCors({
    origin: config.corsOrigins === '*' ? true : config.corsOrigins,
    exposedHeaders: ['x-anon-id', 'x-request-id'],
    allowedHeaders: ['authorization', 'content-type', 'x-anon-id', 'x-request-id', 'last-event-id'],
  });
  app.useGlobalFilters(new HttpExceptionFilter(logger));
  app.useGlobalPipes(createValidationPipe());
  const redis = app.get(RedisService);
  app.useWebSocketAdapter(new AppSocketIoAdapter(app, config, redis.enabled ? await redis.newClient() : undefined));
  return app;
}
