// The benchmark's own embedded PostgreSQL, started with the project's code (the same package,
// flags and max_connections as the service's default), so that the orchestrator can put a proxy
// between the service and it and so that its transaction-id counter counts only our service.
// argv[2]: the directory for its data. Prints {"type":"listening","url":...}; stops PostgreSQL and
// exits on SIGTERM or when its stdin closes.
import { startEmbeddedPostgres } from '../dist/src/database/embedded-postgres.js';
import { emit, onCommands } from './lib/common.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/postgres.mjs <data dir>');
  process.exit(2);
}

const quiet = () => undefined;
const logger = {
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (...args) => console.error('[postgres]', ...args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))),
  error: (...args) => console.error('[postgres]', ...args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))),
  child: () => logger,
};

const pg = await startEmbeddedPostgres(dir, logger, { persistent: false, database: 'bench' });
emit({ type: 'listening', url: pg.url });

let stopping;
const stop = () => {
  stopping ??= pg
    .stop()
    .catch((error) => console.error('[postgres] stop failed', error))
    .finally(() => process.exit(0));
  return stopping;
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
onCommands(() => undefined, stop);
