/**
 * `SqliteTransport`: the embedded default transport — durable queues and topics in the same
 * SQLite file as the event store. Made from a `SqliteEventStore`, it shares the store's connection
 * (and so its transactions: a send from inside a read-model transaction or an inline handler
 * commits or rolls back with it); made from a path, it opens a connection of its own. Several
 * processes may consume the same file. Core's engine (`createTransport`) does dispatch, retries,
 * decoding and back-pressure; the driver here stores and delivers.
 */
import type {
  ConsumeSource,
  Consumer,
  ConsumerOptions,
  DeadLetterQueue,
  Event,
  MessageHandlers,
  OutgoingMessage,
  SendOptions,
  SentMessage,
  Transport,
  TransportCapabilities,
  TransportOptions,
} from '@eventloom/core';
import { InvalidArgumentError } from '@eventloom/core';
import { createTransport, describeValue } from '@eventloom/core/adapter';
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

export class SqliteTransport implements Transport {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterQueue;
  /** The connection the queues are on (the store's, when made from one). */
  readonly database: SqliteDatabase;
  readonly #driver: SqliteTransportDriver;
  readonly #engine: Transport;

  constructor(options: SqliteTransportOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', `must be an object such as { store } or { filename: 'app.db' }, got ${describeValue(options)}`);
    }
    const { store, filename, durability, busyTimeoutMs, pollIntervalMs, ...engineOptions } = options;
    if ((store === undefined) === (filename === undefined)) {
      throw new InvalidArgumentError('options', "must name either the event store to share ({ store }) or a file ({ filename: 'app.db' })");
    }
    if (store !== undefined && (store === null || typeof store !== 'object' || !('database' in store))) {
      throw new InvalidArgumentError('store', `must be a SqliteEventStore, got ${describeValue(store)}`);
    }
    this.#driver = new SqliteTransportDriver({
      ...(store !== undefined ? { database: store.database } : { filename }),
      ...(durability !== undefined && { durability }),
      ...(busyTimeoutMs !== undefined && { busyTimeoutMs }),
      ...(pollIntervalMs !== undefined && { pollIntervalMs }),
    });
    this.#engine = createTransport(this.#driver, engineOptions);
    this.kind = this.#engine.kind;
    this.capabilities = this.#engine.capabilities;
    this.deadLetters = this.#engine.deadLetters;
    this.database = this.#driver.database;
  }

  /** How well sends, claims and acks are sharing commits. */
  get writeStats(): QueueWriterStats {
    return this.#driver.writeStats;
  }

  send<M extends Event>(queue: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.send(queue, messages, options);
  }

  publish<M extends Event>(topic: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.publish(topic, messages, options);
  }

  consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer {
    return this.#engine.consume<M>(source, handlers, options);
  }

  declare(sources: readonly ConsumeSource[]): Promise<void> {
    return this.#engine.declare(sources);
  }

  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    return this.#engine.cancelScheduled(destination, messageId);
  }

  /** Stops the consumers (as `stop()` does), then closes the connection when the transport opened it (a store's stays open). */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /**
   * Stops at once as a killed process would: nothing claimed is released (it comes back when its
   * lease runs out), and the connection is closed. For crash tests.
   * @internal
   */
  abandon(): Promise<void> {
    return this.#driver.abandon();
  }
}
