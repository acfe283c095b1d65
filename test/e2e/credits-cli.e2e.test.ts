import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { dataSourceOptions, runMigrations } from '../../src/database/data-source.js';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { AnonUsageRepository } from '../../src/usage/anon-usage.repository.js';
import { CreditsRepository } from '../../src/usage/credits.repository.js';
import { Sql } from '../../src/database/sql.js';
import { UsageService } from '../../src/usage/usage.service.js';
import { UserEntity } from '../../src/users/user.entity.js';
import { UsersRepository } from '../../src/users/users.repository.js';
import { compileSources } from '../support/compile.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

// The command runs as operators run it: `node <compiled>/src/usage/credits-cli.js` in a child
// process (see compileSources).
const ROOT = process.cwd();
let outDir: string;

async function compileOnce(): Promise<void> {
  outDir = await compileSources('credits-cli-e2e-');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function credits(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(outDir, 'src/usage/credits-cli.js'), ...args], {
      cwd: ROOT,
      // Only what the command needs: nothing leaks in from the test runner's environment.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function createUser(dataSource: DataSource, initialCredits: number) {
  const config = loadConfig({ USER_INITIAL_CREDITS: String(initialCredits) });
  const users = new UsersRepository(dataSource.getRepository(UserEntity));
  const usage = new UsageService(config, Sql.of(dataSource), new CreditsRepository(), new AnonUsageRepository(), createLogger('silent'));
  const user = await users.create({ email: `op-${randomUUID()}@example.com`, passwordHash: 'x', name: null });
  await usage.grantInitialCredits(user.id);
  const sql = Sql.of(dataSource);
  const repo = new CreditsRepository();
  // The repository's reads, on this data source's pool.
  const credits = {
    findAccount: (userId: string) => repo.findAccount(sql, userId),
    ledgerBalance: (userId: string) => repo.ledgerBalance(sql, userId),
  };
  return { user, usage, credits };
}

describe('npm run credits', () => {
  beforeAll(compileOnce, 60_000);
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    beforeAll(async () => {
      db = await createTestDatabase();
      dataSource = new DataSource(dataSourceOptions(db.url));
      await dataSource.initialize();
    });
    afterAll(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });

    it('grants credits and shows the balance and the ledger', async () => {
      const { user, credits: repo } = await createUser(dataSource, 1000);
      const granted = await credits(['grant', '--email', user.email.toUpperCase(), '--amount', '50000', '--note', 'support #12'], { DATABASE_URL: db.url });
      expect(granted.stderr).toBe('');
      expect(granted.code).toBe(0);
      expect(granted.stdout).toContain(`Granted 50000 credits to ${user.email}.`);
      expect(granted.stdout).toContain('balance:  51000 available, 0 reserved');
      expect(await repo.findAccount(user.id)).toEqual({ balance: 51_000, reserved: 0 });
      expect(await repo.ledgerBalance(user.id)).toBe(51_000);

      const shown = await credits(['show', '--email', user.email], { DATABASE_URL: db.url });
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(`user:     ${user.email} (${user.id})`);
      expect(shown.stdout).toContain('balance:  51000 credits available');
      expect(shown.stdout).toContain('reserved: 0 credits held');
      expect(shown.stdout).toContain('ledger:   2 rows, sum 51000 (equals the balance)');
      const rows = shown.stdout.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT/.test(l));
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/grant\s+\+50000.*support #12$/);
      expect(rows[1]).toMatch(/grant\s+\+1000.*initial credits$/);
    });

    it('refuses an unknown email, a bad amount and a bad command with a message and a non-zero exit', async () => {
      const { user, credits: repo } = await createUser(dataSource, 10);
      const unknown = await credits(['grant', '--email', 'nobody@example.com', '--amount', '5'], { DATABASE_URL: db.url });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no user with the email nobody@example.com');

      const amounts = ['abc', '0', '-5', '1.5', '', '99999999999999999999'];
      const badAmounts = await Promise.all(amounts.map((amount) => credits(['grant', '--email', user.email, `--amount=${amount}`], { DATABASE_URL: db.url })));
      for (const [i, bad] of badAmounts.entries()) {
        expect(bad.code, amounts[i]).toBe(2);
        expect(bad.stderr, amounts[i]).toContain('--amount must be a positive whole number');
      }
      const commands = [['grant', '--email', user.email], ['refund', '--email', user.email], ['show'], ['show', '--email', user.email, '--bogus']];
      const badCommands = await Promise.all(commands.map((args) => credits(args, { DATABASE_URL: db.url })));
      for (const [i, bad] of badCommands.entries()) {
        expect(bad.code, commands[i].join(' ')).toBe(2);
        expect(bad.stderr, commands[i].join(' ')).toContain('usage:');
      }
      expect(await repo.findAccount(user.id)).toEqual({ balance: 10, reserved: 0 });
    });

    it('refuses a bad configuration naming the variable', async () => {
      const run = await credits(['show', '--email', 'x@example.com'], { DATABASE_URL: 'mysql://nope' });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('DATABASE_URL');
    });
  });

  describe('with the embedded PostgreSQL under DATA_DIR', () => {
    let dataDir: string;
    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-cli-data-'));
      // As root, PostgreSQL runs as "postgres", which must be able to reach DATA_DIR/postgres.
      await chmod(dataDir, 0o711);
    });
    afterAll(async () => {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('uses the running app\'s server without stopping it, and starts (and stops) its own otherwise', async () => {
      // What `npm start` leaves running: the embedded server on DATA_DIR/postgres.
      const server = await startEmbeddedPostgres(path.join(dataDir, 'postgres'), createLogger('silent'));
      let stopped = false;
      try {
        await runMigrations(server.url);
        const dataSource = new DataSource(dataSourceOptions(server.url));
        await dataSource.initialize();
        try {
          const { user, credits: repo } = await createUser(dataSource, 100);
          const granted = await credits(['grant', '--email', user.email, '--amount', '7'], { DATA_DIR: dataDir });
          expect(granted.stderr).toBe('');
          expect(granted.code).toBe(0);
          // The app's server is still up (this connection still works) and holds the grant.
          expect(await repo.findAccount(user.id)).toEqual({ balance: 107, reserved: 0 });
          await dataSource.destroy();
          await server.stop();
          stopped = true;

          const shown = await credits(['show', '--email', user.email], { DATA_DIR: dataDir });
          expect(shown.stderr).toBe('');
          expect(shown.code).toBe(0);
          expect(shown.stdout).toContain('balance:  107 credits available');
          expect(existsSync(path.join(dataDir, 'postgres', 'pgdata', 'postmaster.pid'))).toBe(false);
        } finally {
          if (dataSource.isInitialized) await dataSource.destroy();
        }
      } finally {
        if (!stopped) await server.stop();
      }
    }, 60_000);
  });
});
