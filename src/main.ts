import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { createLogger } from './common/logging/logger.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { prepareDatabase } from './database/database.js';

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const database = await prepareDatabase(config, logger);
  const app = await createApp(config, logger, database.url);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await app.close().catch((error: unknown) => logger.error({ err: error }, 'error while closing the app'));
    await database.stop().catch((error: unknown) => logger.error({ err: error }, 'error while stopping PostgreSQL'));
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen(config.port, '0.0.0.0');
  // PORT=0 picks a free port: log the one actually bound.
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const usingEcho = config.models.every((m) => m.provider === 'echo');
  logger.info(
    {
      port,
      database: database.embedded ? 'embedded' : 'DATABASE_URL',
      redis: config.redisUrl ? 'on' : 'off',
      models: config.models.map((m) => m.id),
      default_model: config.defaultModel,
    },
    usingEcho
      ? `listening on http://localhost:${port}; no provider key is set, so the built-in "echo" model is the default`
      : `listening on http://localhost:${port}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
