import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../messages/message.entity.js';
import { AnonUsageEntity } from '../usage/anon-usage.entity.js';
import { CreditAccountEntity } from '../usage/credit-account.entity.js';
import { CreditLedgerEntity } from '../usage/credit-ledger.entity.js';
import { UserEntity } from '../users/user.entity.js';

export const ENTITIES = [UserEntity, ChatEntity, MessageEntity, CreditAccountEntity, CreditLedgerEntity, AnonUsageEntity];

export function dataSourceOptions(url: string): DataSourceOptions {
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
    // pg pool size per instance; one generation holds no connection while it streams.
    extra: { max: 20, connectionTimeoutMillis: 5000 },
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
