/**
 * `SqliteTransport`: the embedded default transport — durable queues and topics in the same
 * SQLite file as the event store. Made from a `SqliteEventStore`, it shares the store's connection
 * (and so its transactions: a send from inside a read-model transaction or an inline handler
 * commits or rolls back with it); made from a path, it opens a connection of its own. Several
 * processes may consume the same file. Core's engine (`createTransport`) does dispatch, retries,
 * decoding and back-pressure; the driver here stores and delivers.
 */
import type { TransportOptions } from '@eventloom/core';
import { InvalidArgumentError } from '@eventloom/core';
import { describeValue, DrivenTransport, requireOneOf, splitTransportOptions } from '@eventloom/core/adapter';
import type { Durability, SqliteDatabase } from '../open-database.js';
import type { SqliteEventStore } from '../sqlite-event-store.js';
import type { QueueWriterStats } from './queue-writer.js';
import { SqliteTransportDriver } from './sqlite-transport-driver.js';

export interface SqliteTransportOptions extends TransportOptions {
  /** The event store whose file (and connection) the queues live in. Give either this or `filename`. */
  readonly store?: SqliteEventStore;
  /** A SQLite file (created and migrated when missing), on a connection of the transport's own. */
  readonly filename?: string;
  /** With `filename`. Default `'full'`: a resolved send survives power loss. */
  readonly durability?: Durability;
  /** How long a write waits for another process's write lock before StoreBusyError. Default the store's, else 30 s. */
  readonly busyTimeoutMs?: number;
  /** Longest wait of an idle consumer between looks at its queue; commits in this and other processes wake it sooner. Default 1 s. */
  readonly pollIntervalMs?: number;
}

/**
 * Opens the SQLite transport.
 *
 * @example
 * const store = openSqliteEventStore({ filename: 'app.db' });
 * const transport = openSqliteTransport({ store, source: 'billing' });
 * await transport.send('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-1' } });
 */
export function openSqliteTransport(options: SqliteTransportOptions): SqliteTransport {
  return new SqliteTransport(options);
}

export class SqliteTransport extends DrivenTransport<SqliteTransportDriver> {
  /** The connection the queues are on (the store's, when made from one). */
  readonly database: SqliteDatabase;

  constructor(options: SqliteTransportOptions) {
    const { engine, adapter } = splitTransportOptions(options, "{ store } or { filename: 'app.db' }");
    requireOneOf(adapter, 'store', 'filename', "share an open event store ({ store }) or name a file ({ filename: 'app.db' })");
    const { store, filename, durability, busyTimeoutMs, pollIntervalMs } = adapter;
    if (store !== undefined && (store === null || typeof store !== 'object' || !('database' in store))) {
      throw new InvalidArgumentError('store', `must be a SqliteEventStore, got ${describeValue(store)}`);
    }
    super(
      new SqliteTransportDriver({
        ...(store !== undefined ? { database: store.database } : { filename }),
        ...(durability !== undefined && { durability }),
        ...(busyTimeoutMs !== undefined && { busyTimeoutMs }),
        ...(pollIntervalMs !== undefined && { pollIntervalMs }),
      }),
      engine,
    );
    this.database = this.driver.database;
  }

  /** How well sends, claims and acks are sharing commits. */
  get writeStats(): QueueWriterStats {
    return this.driver.writeStats;
  }

  /**
   * Stops at once as a killed process would: nothing claimed is released (it comes back when its
   * lease runs out), and the connection is closed. For crash tests.
   * @internal
   */
  abandon(): Promise<void> {
    return this.driver.abandon();
  }
}
