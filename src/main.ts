import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { createLogger } from './common/logging/logger.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { prepareDatabase } from './database/database.js';
import { GenerationRegistry } from './messages/generation/generation-registry.js';

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
  // npm scripts run the Node that the `node` dependency installs; `node dist/src/main.js` started
  // by hand runs whatever Node is on the path, so say so when it is older than package.json allows.
  if (!supportedNode(process.versions.node)) {
    logger.warn({ node: process.version, required: `>=${MIN_NODE.join('.')}` }, 'this Node.js is older than the service supports: start it with `npm run start:prod` (or node_modules/.bin/node)');
  }
  const database = await prepareDatabase(config, logger);
  const app = await createApp(config, logger, database.url);

  // Shutdown, as the contract says: readiness 503 and SHUTTING_DOWN for new sends at once;
  // running answers get SHUTDOWN_DRAIN_MS to finish (a second signal cuts that short); the rest
  // are stopped and stored; then the HTTP server, the sockets and Redis close, the database
  // last, and the process exits 0.
  let stopping = false;
  let cutShort!: () => void;
  const secondSignal = new Promise<void>((resolve) => (cutShort = resolve));
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: stopping the running answers now');
      cutShort();
      return;
    }
    stopping = true;
    const registry = app.get(GenerationRegistry);
    logger.info({ signal, running: registry.size, drain_ms: config.shutdownDrainMs }, 'shutting down: draining running answers');
    let code = 0;
    try {
      await registry.drain(config.shutdownDrainMs, secondSignal);
      await app.close();
    } catch (error) {
      logger.error({ err: error }, 'error while closing the app');
      code = 1;
    }
    await database.stop().catch((error: unknown) => {
      logger.error({ err: error }, 'error while stopping PostgreSQL');
      code = 1;
    });
    logger.info({ code }, 'shut down');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // A deep accept queue (the kernel caps it at net.core.somaxconn): a burst of connections waits
  // to be accepted instead of being reset.
  // (Nest hands these arguments to Node's server.listen(port, host, backlog) as they are.)
  await (app.listen as unknown as (port: number, host: string, backlog: number) => Promise<unknown>).call(app, config.port, '0.0.0.0', LISTEN_BACKLOG);
  // PORT=0 picks a free port: log the one actually bound.
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const usingEcho = config.models.every((m) => m.provider === 'echo');
  logger.info(
    {
      port,
      node: process.version,
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

const LISTEN_BACKLOG = 4096;

// As package.json's engines.node.
const MIN_NODE = [24, 15];

function supportedNode(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
