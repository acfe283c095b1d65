import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { Sql, unwrap } from '../../src/database/sql.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

// The pipelined transactions every turn runs through, on a real PostgreSQL.
describe(Sql.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let sut: Sql;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource(dataSourceOptions(db.url, { size: 4 }));
    await dataSource.initialize();
    sut = Sql.of(dataSource);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS sql_test (id int PRIMARY KEY, note text)');
  });
  afterAll(async () => {
    await admin?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  const count = async () => Number((await admin.query('SELECT count(*) AS n FROM sql_test')).rows[0].n);

  it('commits what a transaction wrote, its statements answered in order', async () => {
    const rows = await sut.transaction(async (tx) => {
      const a = tx.query('INSERT INTO sql_test (id, note) VALUES ($1, $2) RETURNING id', [1, 'a']);
      const b = tx.query('INSERT INTO sql_test (id, note) VALUES ($1, $2) RETURNING id', [2, 'b']);
      const seen = tx.query<{ n: string }>('SELECT count(*) AS n FROM sql_test');
      const [x, y, z] = await Promise.allSettled([a, b, seen]);
      return [unwrap(x)[0], unwrap(y)[0], unwrap(z)[0]];
    });
    expect(rows).toEqual([{ id: 1 }, { id: 2 }, { n: '2' }]);
    expect(await count()).toBe(2);
  });

  it('rolls back when the work throws, even after its statements succeeded', async () => {
    const before = await count();
    await expect(
      sut.transaction(async (tx) => {
        await tx.query('INSERT INTO sql_test (id) VALUES ($1)', [10]);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await count()).toBe(before);
  });

  it('throws the first failing statement, not the ones PostgreSQL then refused, and writes nothing', async () => {
    const before = await count();
    const failed = sut.transaction(async (tx) => {
      const dup = tx.query('INSERT INTO sql_test (id) VALUES ($1), ($1)', [20]);
      const after = tx.query('INSERT INTO sql_test (id) VALUES ($1)', [21]);
      await Promise.allSettled([dup, after]);
      return 'not reached';
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect(await count()).toBe(before);
  });

  it('a batch commits all or nothing in one go', async () => {
    const [a, b] = await sut.batch((tx) => [tx.query('INSERT INTO sql_test (id) VALUES (30) RETURNING id'), tx.query('INSERT INTO sql_test (id) VALUES (31) RETURNING id')] as const);
    expect([a[0], b[0]]).toEqual([{ id: 30 }, { id: 31 }]);
    const before = await count();
    await expect(sut.batch((tx) => [tx.query('INSERT INTO sql_test (id) VALUES (40)'), tx.query('INSERT INTO sql_test (id) VALUES (30)')] as const)).rejects.toMatchObject({ code: '23505' });
    expect(await count()).toBe(before);
  });

  it('hands out what a transaction decided before its COMMIT has answered, and says when it has', async () => {
    const { value, committed } = await sut.decideThenCommit(async (tx) => (await tx.query<{ id: number }>('INSERT INTO sql_test (id) VALUES (60) RETURNING id'))[0]);
    expect(value).toEqual({ id: 60 });
    await committed;
    expect((await admin.query('SELECT id FROM sql_test WHERE id = 60')).rows).toHaveLength(1);
    const before = await count();
    await expect(
      sut.decideThenCommit(async (tx) => {
        await tx.query('INSERT INTO sql_test (id) VALUES (61)');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await count()).toBe(before);
  });

  it('survives a connection killed in the middle of a transaction: the transaction rejects, the pool goes on', async () => {
    const running = sut.transaction(async (tx) => {
      await tx.query('SELECT pg_sleep(5)');
      return 'not reached';
    });
    // Its outcome is taken at once: it may reject before the terminate statement has answered.
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    // Wait until the sleeping backend exists, then terminate it from outside.
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      const found = await admin.query(`SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'`);
      pid = found.rows[0]?.pid as number | undefined;
      if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(pid).toBeDefined();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    expect(await outcome).toBeInstanceOf(Error);
    // The broken connection was not put back: the next statements get a working one.
    expect(await sut.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await sut.transaction(async (tx) => tx.query('INSERT INTO sql_test (id) VALUES (50)'));
    expect((await admin.query('SELECT id FROM sql_test WHERE id = 50')).rows).toHaveLength(1);
  });
});
