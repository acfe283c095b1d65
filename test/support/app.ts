import type { INestApplication } from '@nestjs/common';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  port: number;
  config: AppConfig;
  databaseUrl: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  // Share a database between apps (e.g. two instances); otherwise each app gets a fresh one.
  database?: TestDatabase;
  // Receives the app's log lines (JSON), at LOG_LEVEL (set it in env).
  logLines?: string[];
}

// Boots the real application on a free port against its own cloned database.
export async function startTestApp({ env = {}, database, logLines }: TestAppOptions = {}): Promise<TestApp> {
  const db = database ?? (await createTestDatabase());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-test-data-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ECHO_DELAY_MS: '5',
    ...env,
    DATABASE_URL: db.url,
  });
  const logger = createLogger(config.logLevel, logLines ? { write: (line) => void logLines.push(line) } : undefined);
  const app = await createApp(config, logger, db.url);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    config,
    databaseUrl: db.url,
    close: async () => {
      await app.close();
      if (!database) await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
