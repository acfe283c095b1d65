import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createLogger } from '../../src/common/logging/logger.js';
import { runMigrations } from '../../src/database/data-source.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/database/embedded-postgres.js';
import { withDatabase } from './db-url.js';

// One PostgreSQL for the run: DATABASE_URL when set, otherwise an embedded server in a temporary
// folder. A template database is migrated once; each test file clones it (see db.ts).
export const TEMPLATE_DB = `chat_template_${process.pid}`;

let embedded: RunningPostgres | undefined;
let tempDir: string | undefined;

export async function setup(project: TestProject) {
  // The web page loads the typed client's compiled modules (served from dist/client): built from
  // the current sources for every run, without the declarations (npm run build makes those).
  execFileSync(process.execPath, [fileURLToPath(new URL('../../client/build.mjs', import.meta.url)), '--js-only'], { stdio: 'inherit' });
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'chat-test-pg-'));
    embedded = await startEmbeddedPostgres(tempDir, createLogger('warn'), { persistent: false, database: 'postgres' });
    serverUrl = embedded.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  await runMigrations(withDatabase(serverUrl, TEMPLATE_DB));
  project.provide('pgServerUrl', serverUrl);
  project.provide('pgTemplate', TEMPLATE_DB);
}

export async function teardown() {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`).catch(() => undefined);
    await admin.end();
  }
  await embedded?.stop();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    pgTemplate: string;
  }
}
