/** Running the store's statements: checkout, session set-up, error mapping, release. */
import { StoreClosedError } from '@eventloom/core';
import type pg from 'pg';
import { isConnectionError, isRetryable, toStoreError, type ErrorContext } from './errors.js';
import { TYPES } from './rows.js';
import type { SessionInitializer } from './session.js';
import type { Queries, Statement } from './sql/queries.js';

/** Runs of one piece of work after a serialization failure or deadlock, the first included. */
const MAX_RUNS = 4;

export class StoreDatabase {
  /** Set by the store's `close()`: pages of a read still being iterated then fail with StoreClosedError. */
  closed = false;

  constructor(
    readonly pool: pg.Pool,
    readonly queries: Queries,
    /** Present for a pool the store did not make. */
    readonly initializer: SessionInitializer | undefined,
  ) {}

  /**
   * Lends a connection to `work`. A connection that broke is dropped from the pool; a statement
   * that failed (a version conflict, say) leaves a healthy connection that goes back. Work is the
   * store's own statement or transaction, rolled back whole when it fails, so after a
   * serialization failure or deadlock it runs again (a few times, after a short random pause).
   */
  async withClient<T>(context: ErrorContext, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let run = 1; ; run++) {
      try {
        return await this.#once(work);
      } catch (error) {
        if (run < MAX_RUNS && isRetryable(error) && !this.closed) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * run));
          continue;
        }
        throw toStoreError(error, context, Date.now() - started);
      }
    }
  }

  async #once<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out connection that breaks emits 'error'; unheard, that would end the process.
    const onError = (error: Error): void => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      if (this.initializer) await this.initializer.prepare(client);
      return await work(client);
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** One statement's rows, as arrays in column order. */
  rows(statement: Statement, values: readonly unknown[], context: ErrorContext): Promise<unknown[][]> {
    return this.withClient(context, (client) => run(client, statement, values));
  }
}

/** Runs a prepared statement on `client`; rows come back as arrays with BigInt and ISO-time parsing. */
export async function run(client: pg.ClientBase, statement: Statement, values: readonly unknown[]): Promise<unknown[][]> {
  const result = await client.query<unknown[]>({
    name: statement.name,
    text: statement.text,
    values: values as unknown[],
    rowMode: 'array',
    types: TYPES,
  });
  return result.rows;
}
