import { Inject, Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_LOGGER } from '../common/core.module.js';
import type { AppLogger } from '../common/logging/logger.js';
import { CLIENT_DIR, loadStaticFiles, loadVendorFiles, PUBLIC_DIR, staticFilesMiddleware } from './static-files.js';

// Serves the built-in web client (public/) at `/`, the typed client it uses (dist/client) at
// `/client/`, and its Markdown libraries at `/vendor/`. A middleware rather than a controller, so
// that it answers only for files that exist and every other path falls through to the API's
// routes and their 404.
@Module({})
export class WebModule implements NestModule {
  constructor(@Inject(APP_LOGGER) private readonly logger: AppLogger) {}

  configure(consumer: MiddlewareConsumer): void {
    const files = new Map([...loadStaticFiles(PUBLIC_DIR), ...loadStaticFiles(CLIENT_DIR, '/client'), ...loadVendorFiles()]);
    if (!files.has('/')) this.logger.warn({ dir: PUBLIC_DIR }, 'no index.html in the web client folder: nothing is served at /');
    if (!files.has('/client/index.js')) this.logger.warn({ dir: CLIENT_DIR }, 'the typed client is not built (npm run build): the web page cannot work');
    consumer.apply(staticFilesMiddleware(files)).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
