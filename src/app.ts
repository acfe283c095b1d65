import { NestFactory } from '@nestjs/core';
import corsMiddleware from 'cors';
import { json, type NextFunction, type Request, type Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { AppSocketIoAdapter } from './gateway/socket-io.adapter.js';
import { RedisService } from './redis/redis.service.js';
import { HttpExceptionFilter } from './common/http/http-exception.filter.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ApiDocumentsService } from './openapi/api-documents.service.js';
import { answerClientErrors } from './common/http/client-errors.js';
import { requestIdMiddleware } from './common/http/request-id.middleware.js';
import { securityHeaders } from './common/http/security-headers.js';
import { NestPinoLogger, type AppLogger } from './common/logging/logger.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/app-config.js';

const AI_SDK_BODY_LIMIT = '8mb';

// Builds the Nest application with everything every entry point needs (main.ts and tests alike).
export async function createApp(config: AppConfig, logger: AppLogger, databaseUrl: string): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger, databaseUrl), {
    logger: new NestPinoLogger(logger),
    bodyParser: false,
  });
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(securityHeaders());
  app.use(requestIdMiddleware(logger));
  // The AI SDK sends the client's whole conversation with every message (only its newest user
  // message is read): a larger limit on that route alone. Registered first, it parses those
  // bodies and the general parser below skips them.
  app.use('/api/v1/chat', json({ limit: AI_SDK_BODY_LIMIT }));
  // Past MAX_BODY_BYTES: PAYLOAD_TOO_LARGE (413), from the filter.
  app.useBodyParser('json', { limit: config.maxBodyBytes });
  answerClientErrors(app.getHttpServer(), logger, config.maxHeaderBytes);
  const cors = corsMiddleware({
    origin: config.corsOrigins === '*' ? true : config.corsOrigins,
    // Retry-After: a browser app reads how long a RATE_LIMITED refusal asks it to wait.
    exposedHeaders: ['x-anon-id', 'x-request-id', 'retry-after'],
    allowedHeaders: ['authorization', 'content-type', 'x-anon-id', 'x-request-id', 'last-event-id'],
  });
  // CORS concerns browsers on other origins, which always send Origin; other requests skip it.
  app.use((req: Request, res: Response, next: NextFunction) => (req.headers.origin === undefined ? next() : cors(req, res, next)));
  app.useGlobalFilters(new HttpExceptionFilter(logger, app.get(MetricsService)));
  app.useGlobalPipes(createValidationPipe());
  // The API descriptions are made from this application's routes.
  app.get(ApiDocumentsService).attach(app);
  const redis = app.get(RedisService);
  app.useWebSocketAdapter(new AppSocketIoAdapter(app, config, redis.enabled ? await redis.newClient(3000) : undefined));
  return app;
}
