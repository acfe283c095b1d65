// Migration commands: `generate <Name>` writes a migration from the difference between the
// entities and a database migrated to the latest committed migration; `check` fails when there
// is any difference; `run` applies pending migrations to DATABASE_URL (or the embedded database).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config.js';
import { createLogger } from '../common/logging/logger.js';
import { dataSourceOptions, runMigrations } from './data-source.js';
import { prepareDatabase } from './database.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');

async function pendingSchemaChanges(): Promise<{ up: string[]; down: string[] }> {
  // A throwaway embedded server, so the comparison never touches a real database.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-migrations-'));
  const pg = await startEmbeddedPostgres(dir, logger, { persistent: false });
  try {
    await runMigrations(pg.url);
    const ds = new DataSource(dataSourceOptions(pg.url));
    await ds.initialize();
    try {
      const sql = await ds.driver.createSchemaBuilder().log();
      const params = (p: unknown[] | undefined) => (p?.length ? `, ${JSON.stringify(p)}` : '');
      return {
        up: sql.upQueries.map((q) => `await queryRunner.query(\`${q.query.replace(/`/g, '\\`')}\`${params(q.parameters)});`),
        down: sql.downQueries.reverse().map((q) => `await queryRunner.query(\`${q.query.replace(/`/g, '\\`')}\`${params(q.parameters)});`),
      };
    } finally {
      await ds.destroy();
    }
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function generate(name: string | undefined) {
  if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error('usage: migration:generate -- <PascalCaseName>');
  const { up, down } = await pendingSchemaChanges();
  if (up.length === 0) {
    console.log('The entities and the migrations agree: nothing to generate.');
    return;
  }
  const timestamp = Date.now();
  const className = `${name}${timestamp}`;
  const file = path.resolve('migrations', `${timestamp}-${name}.ts`);
  const indent = (lines: string[]) => lines.map((l) => `    ${l}`).join('\n');
  await writeFile(
    file,
    `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${indent(up)}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${indent(down)}
  }
}
`,
  );
  const indexFile = path.resolve('migrations', 'index.ts');
  const index = await readFile(indexFile, 'utf8');
  const importLine = `import { ${className} } from './${timestamp}-${name}.js';\n`;
  await writeFile(indexFile, importLine + index.replace(/\n\];\s*$/, `\n  ${className},\n];\n`));
  console.log(`Wrote ${path.relative(process.cwd(), file)} and added it to migrations/index.ts`);
}

async function check() {
  const { up } = await pendingSchemaChanges();
  if (up.length > 0) {
    console.error('The entities and the migrations disagree. Run `npm run migration:generate -- <Name>`. Missing:');
    for (const line of up) console.error(`  ${line}`);
    process.exitCode = 1;
    return;
  }
  console.log('The entities and the migrations agree.');
}

async function run() {
  const config = loadConfig(process.env);
  const db = await prepareDatabase(config, logger);
  console.log('Migrations are up to date.');
  await db.stop();
}

const [command, arg] = process.argv.slice(2);
const commands: Record<string, () => Promise<void>> = { generate: () => generate(arg), check, run };
const selected = command ? commands[command] : undefined;
if (!selected) {
  console.error('usage: node dist/src/database/cli.js generate <Name> | check | run');
  process.exitCode = 2;
} else {
  // Exit explicitly: embedded-postgres installs an exit hook that would otherwise end with 0.
  selected().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
