import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';

// Anything that runs a statement: the pool (autocommit) or an open transaction.
export interface Queryable {
  // Resolves with the rows. In a transaction the statement is sent at once, without waiting for
  // the ones before it to answer (pipelined): a transaction of five statements is one round trip.
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
}

// Statements are prepared once per connection under a name derived from their text, so that
// PostgreSQL parses and plans each hot statement once.
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `s${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

function run<R>(client: pg.PoolClient | pg.Pool, text: string, values?: unknown[]): Promise<R[]> {
  return client.query({ name: statementName(text), text, values }).then((result) => result.rows as R[]);
}

class PipelinedTransaction implements Queryable {
  private readonly sent: Promise<unknown>[] = [];
  private corked = false;
  // The first statement that failed: PostgreSQL refuses every later one in this transaction.
  failure: unknown;

  constructor(private readonly client: pg.PoolClient) {}

  query<R extends object>(text: string, values?: unknown[]): Promise<R[]> {
    this.cork();
    const result = run<R>(this.client, text, values);
    // Awaited (or not) by the caller; tracked here so that no rejection goes unhandled and the
    // transaction ends only after every statement has answered.
    this.sent.push(
      result.catch((error: unknown) => {
        this.failure ??= error;
      }),
    );
    return result;
  }

  ended = false;

  // BEGIN: never rejects; a failure is kept (and makes every later statement fail anyway).
  send(text: string): Promise<void> {
    this.cork();
    const sent = this.client.query(text).then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.sent.push(sent);
    return sent;
  }

  // The statements written in one tick leave in one write (pg writes each statement by itself):
  // one system call and one packet for the whole burst, not one per statement.
  private cork(): void {
    if (this.corked) return;
    const stream = (this.client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
    if (!stream?.cork || !stream.uncork) return;
    this.corked = true;
    stream.cork();
    process.nextTick(() => {
      this.corked = false;
      stream.uncork!();
    });
  }

  // COMMIT or ROLLBACK. A COMMIT that did not commit (a statement had failed) rejects.
  async end(command: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    let tag: string | undefined;
    try {
      tag = (await this.client.query(command)).command;
      this.ended = true;
    } catch (error) {
      if (command === 'COMMIT') throw error;
      return;
    }
    if (command === 'COMMIT' && tag !== 'COMMIT') throw this.failure ?? new Error(`COMMIT ended as ${tag}`);
  }

  settled(): Promise<unknown> {
    return Promise.all(this.sent);
  }
}

// BEGIN, then `work`, until every statement it sent has answered. A failure (its own or a
// statement's) rolls back and is thrown; otherwise the transaction is left open for COMMIT.
async function decide<T>(tx: PipelinedTransaction, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const begun = tx.send('BEGIN');
  try {
    const value = await work(tx);
    await begun;
    await tx.settled();
    if (tx.failure) throw tx.failure;
    return value;
  } catch (error) {
    await tx.settled();
    await tx.end('ROLLBACK');
    throw error;
  }
}

// The database as the repositories use it: pooled statements and pipelined transactions, on
// the pg pool that TypeORM made (its connections are opened with `pipeline: true`).
export class Sql implements Queryable {
  constructor(private readonly pool: pg.Pool) {}

  // The pool of an initialised TypeORM data source.
  static of(dataSource: DataSource): Sql {
    const pool = (dataSource.driver as PostgresDriver).master as pg.Pool | undefined;
    if (!pool) throw new Error('Sql.of: the data source is not initialised');
    return new Sql(pool);
  }

  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]> {
    return run<R>(this.pool, text, values);
  }

  // A transaction whose statements go out as they are written. `work` may await results and
  // decide; it throws to roll back. COMMIT is sent once `work` has returned.
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.withClient(async (tx) => {
      const value = await decide(tx, work);
      await tx.end('COMMIT');
      return value;
    });
  }

  // As transaction(), but what `work` decided is handed back as soon as it is known, with the
  // COMMIT still on its way (`committed` settles when it has answered; it rejects if the
  // transaction did not commit). For a caller that can start slow work meanwhile and show its
  // result only once committed.
  async decideThenCommit<T>(work: (tx: Queryable) => Promise<T>): Promise<{ value: T; committed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const committed = this.withClient(async (tx) => {
        let value: T;
        try {
          value = await decide(tx, work);
        } catch (error) {
          reject(error);
          return;
        }
        const ending = tx.end('COMMIT');
        resolve({ value, committed: ending });
        await ending.catch(() => undefined);
      });
      committed.catch(reject);
    });
  }

  // A transaction of statements that do not depend on each other's answers: BEGIN, the
  // statements and COMMIT leave together, one round trip in all. If one fails, PostgreSQL
  // refuses the rest and COMMIT ends as a rollback; the first error is thrown.
  async batch<T extends readonly unknown[]>(work: (tx: Queryable) => { [K in keyof T]: Promise<T[K]> }): Promise<T> {
    return this.withClient(async (tx) => {
      void tx.send('BEGIN');
      const results = Promise.all(work(tx));
      const committed = tx.end('COMMIT');
      // Both are awaited to the end: the first failure (a statement's, else COMMIT's) is thrown.
      const [values, commit] = await Promise.allSettled([results, committed]);
      if (values.status === 'rejected') throw values.reason;
      if (commit.status === 'rejected') throw commit.reason;
      return values.value as unknown as T;
    });
  }

  private async withClient<T>(work: (tx: PipelinedTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = new PipelinedTransaction(client);
    // The pool listens for errors of idle connections only: one that breaks while checked out
    // (the server restarted, the backend was terminated) would otherwise throw out of the
    // socket's handler and end the process. Its statements reject as well.
    const onError = (error: Error) => {
      tx.failure ??= error;
    };
    client.on('error', onError);
    try {
      return await work(tx);
    } finally {
      client.off('error', onError);
      // A connection whose transaction did not end cleanly is closed, not reused.
      client.release(tx.ended ? undefined : new Error('transaction did not end cleanly'));
    }
  }
}

// The answers of pipelined statements are read with Promise.allSettled (so that none is left
// rejected and unheard) and then taken in the order that decides, with this.
export function unwrap<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}
