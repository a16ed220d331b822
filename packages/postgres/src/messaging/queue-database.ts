/** Running the queue's statements: the store's connection handling, with the transport's errors. */
import { TransportClosedError, TransportUnavailableError } from '@eventloom/core';
import type pg from 'pg';
import type { StoreDatabase } from '../database.js';
import { isConnectionError, toStoreError } from '../errors.js';
import { TYPES } from '../rows.js';

export class QueueDatabase {
  closed = false;

  constructor(readonly db: StoreDatabase) {}

  /**
   * Lends a connection to `work` (serialization failures and deadlocks run again, see
   * `StoreDatabase.withClient`). A lost connection is a TransportUnavailableError (consumers wait
   * it out); other server errors are the store's typed errors.
   */
  async withClient<T>(operation: string, work: (client: pg.PoolClient) => Promise<T>, sends = false): Promise<T> {
    if (this.closed) throw new TransportClosedError('postgres');
    try {
      return await this.db.withClient({ operation }, work);
    } catch (error) {
      const cause = error instanceof Error && 'cause' in error && isConnectionError(error.cause) ? error.cause : error;
      if (isConnectionError(cause)) {
        const outcome = sends ? ' The messages were stored all or none: send them again with the same ids if in doubt (consumers dedupe by id).' : '';
        throw new TransportUnavailableError('postgres', `PostgreSQL became unreachable during ${operation}: ${(cause as Error).message}.${outcome}`, { cause });
      }
      throw toStoreError(error, { operation });
    }
  }

  /** One statement's rows as arrays; unnamed, so planned with its values and the table's size now. */
  async rows(operation: string, text: string, values: readonly unknown[], sends = false): Promise<unknown[][]> {
    return this.withClient(operation, (client) => query(client, text, values), sends);
  }
}

export async function query(client: pg.ClientBase, text: string, values: readonly unknown[]): Promise<unknown[][]> {
  const result = await client.query<unknown[]>({ text, values: values as unknown[], rowMode: 'array', types: TYPES });
  return result.rows;
}

export async function count(client: pg.ClientBase, text: string, values: readonly unknown[]): Promise<number> {
  const result = await client.query({ text, values: values as unknown[], types: TYPES });
  return result.rowCount ?? 0;
}
