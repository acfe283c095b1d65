import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { ClientChatEntity } from '../chats/client-chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { DocumentEntity } from '../documents/document.entity.js';
import { PassageEntity } from '../documents/passage.entity.js';
import { ProjectEntity } from '../projects/project.entity.js';
import { AnonUsageEntity } from '../usage/anon-usage.entity.js';
import { CreditAccountEntity } from '../usage/credit-account.entity.js';
import { CreditLedgerEntity } from '../usage/credit-ledger.entity.js';
import { UserEntity } from '../users/user.entity.js';

export const ENTITIES = [UserEntity, ChatEntity, ClientChatEntity, MessageEntity, CreditAccountEntity, CreditLedgerEntity, AnonUsageEntity, ProjectEntity, DocumentEntity, PassageEntity];

// How long a statement may wait for a free connection before it fails. The sweeper's threshold
// (abandoned-generations.sweeper.ts) stays well above this plus the heartbeat interval, so a
// saturated pool never makes a live generation look dead to another instance.
export const CONNECTION_WAIT_MS = 30_000;

export interface PoolOptions {
  // Connections per instance. A generation holds none while it streams: a turn takes one for
  // two round trips at its start and one at its end.
  size?: number;
}

export function dataSourceOptions(url: string, pool: PoolOptions = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrationsRun: false,
    // Pipelined connections (see sql.ts). Under load a request waits for a connection rather
    // than failing: load shows as latency, and the generation ceiling bounds the queue.
    extra: { max: pool.size ?? 20, connectionTimeoutMillis: CONNECTION_WAIT_MS, pipeline: true },
  };
}

const MIGRATION_LOCK = 7_241_001;

// Runs pending migrations under an advisory lock, so instances starting together take turns.
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}
