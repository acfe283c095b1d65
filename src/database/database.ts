import path from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import type { AppLogger } from '../common/logging/logger.js';
import { runMigrations } from './data-source.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface PreparedDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

// DATABASE_URL when set, otherwise the embedded PostgreSQL under DATA_DIR; migrated either way.
export async function prepareDatabase(config: AppConfig, logger: AppLogger): Promise<PreparedDatabase> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(path.join(config.dataDir, 'postgres'), logger);
  const url = config.databaseUrl ?? embedded!.url;
  try {
    const applied = await runMigrations(url);
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { url, embedded: Boolean(embedded), stop: async () => embedded?.stop() };
}
