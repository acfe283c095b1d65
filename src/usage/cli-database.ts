import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';
import { runMigrations } from '../database/data-source.js';
import { prepareDatabase } from '../database/database.js';

export interface CliDatabase {
  url: string;
  // Where it came from, for the operator.
  source: 'DATABASE_URL' | 'running embedded PostgreSQL' | 'embedded PostgreSQL started for this command';
  stop(): Promise<void>;
}

// The database a one-off command (credits-cli) should use:
// - DATABASE_URL when set;
// - else, when the app (`npm start`) is running with the same DATA_DIR, its embedded server:
//   starting another one on that data directory would stop the app's server (a stale-server
//   check in embedded-postgres.ts stops any PostgreSQL holding it), so we connect to it with the
//   port from postmaster.pid and the password kept in embedded-postgres.json;
// - else an embedded server of our own on DATA_DIR, stopped when the command ends.
// Migrations are applied in every case, as the app does at start (under its advisory lock).
export async function openCliDatabase(config: AppConfig, logger: AppLogger): Promise<CliDatabase> {
  if (!config.databaseUrl) {
    const running = await runningEmbeddedServer(path.join(config.dataDir, 'postgres'));
    if (running) {
      await runMigrations(running);
      return { url: running, source: 'running embedded PostgreSQL', stop: async () => undefined };
    }
  }
  const db = await prepareDatabase(config, logger);
  return { url: db.url, source: db.embedded ? 'embedded PostgreSQL started for this command' : 'DATABASE_URL', stop: db.stop };
}

// The URL of the embedded server running on `dir` (DATA_DIR/postgres), or undefined.
export async function runningEmbeddedServer(dir: string): Promise<string | undefined> {
  let pidFile: string[];
  try {
    pidFile = (await readFile(path.join(dir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(pidFile[0] ?? '', 10);
  const port = Number.parseInt(pidFile[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !isPostgres(pid)) return undefined;
  const settings = JSON.parse(await readFile(path.join(dir, 'embedded-postgres.json'), 'utf8')) as { password?: unknown };
  if (typeof settings.password !== 'string') throw new Error(`${dir}/embedded-postgres.json holds no password`);
  // The user and database names are the ones embedded-postgres.ts creates.
  return `postgres://chat:${encodeURIComponent(settings.password)}@127.0.0.1:${port}/chat`;
}

function isPostgres(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's (PostgreSQL runs as "postgres" when started by root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!existsSync('/proc')) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}
