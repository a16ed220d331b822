/**
 * The SQLite transport's storage and delivery (core's engine, `createTransport`, does the rest):
 * durable queues in the same file as the event store, on its connection when made from a store
 * (so a send from inside a read-model transaction or an inline handler joins that transaction),
 * or on a connection of its own from a path. Several processes may share the file: claims are
 * leases in the file, and a commit in one process wakes the others' receivers within ~5 ms.
 */
import { InvalidArgumentError, TransportClosedError, uuidv7, type ConsumeSource, type Destination } from '@eventloom/core';
import type { PreparedMessage, Receiver, ReceiverOptions, TransportDriver } from '@eventloom/core/adapter';
import { checkPollIntervalMs, describeValue, requireOneOf } from '@eventloom/core/adapter';
import { retryWhileBusy } from '../busy.js';
import { connectionLock, type ConnectionLock } from '../connection-lock.js';
import { assertSchemaNotNewer, migrate } from '../migrate.js';
import { busyTimeoutOf, checkBusyTimeout, openDatabase, type Durability, type SqliteDatabase } from '../open-database.js';
import { parseStored, typedStoreError } from '../sqlite-errors.js';
import { SqliteDeadLetterQueue } from './dead-letter-queue.js';
import { QueueStatements } from './queue-statements.js';
import { queueSignal, QueueWakeups } from './queue-wakeups.js';
import { QueueWriter, type QueueWriterStats } from './queue-writer.js';
import { SqliteReceiver } from './receiver.js';
import { envelopeJson, sourceColumns } from './rows.js';

/** Longest wait of an idle receiver between looks at its queue; commits wake it sooner. */
export const QUEUE_POLL_MS = 1_000;

export interface SqliteTransportDriverOptions {
  /**
   * The SQLite file (created and migrated when missing), opened on a connection of the
   * transport's own. Give either this or `database`.
   */
  readonly filename?: string;
  /** An open connection to share, e.g. an event store's `database`: its transactions and lock are shared too. */
  readonly database?: SqliteDatabase;
  /** With `filename`. Default `'full'`: a resolved send survives power loss. */
  readonly durability?: Durability;
  /** How long a write waits for another process's write lock (StoreBusyError after). Default the connection's, else 30 s. */
  readonly busyTimeoutMs?: number;
  /** Longest wait between looks when nothing woke an idle receiver. Default `QUEUE_POLL_MS`. */
  readonly pollIntervalMs?: number;
}

export class SqliteTransportDriver implements TransportDriver {
  readonly kind = 'sqlite';
  readonly capabilities = { cancelScheduled: true } as const;
  readonly database: SqliteDatabase;
  readonly deadLetters: SqliteDeadLetterQueue;
  readonly #ownsDatabase: boolean;
  readonly #statements: QueueStatements;
  readonly #connection: ConnectionLock;
  readonly #writer: QueueWriter;
  readonly #wakeups: QueueWakeups;
  readonly #busyTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #closed = new AbortController();
  readonly #receivers = new Set<SqliteReceiver>();
  #closing: Promise<void> | undefined;

  constructor(options: SqliteTransportDriverOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', `must be an object such as { filename: 'app.db' } or { database: store.database }, got ${describeValue(options)}`);
    }
    requireOneOf(options, 'filename', 'database', "name a file ({ filename: 'app.db' }) or an open connection ({ database: store.database })");
    this.#pollIntervalMs = checkPollIntervalMs(options.pollIntervalMs, QUEUE_POLL_MS);
    if (options.database !== undefined) {
      const db = options.database;
      if (!db.open) throw new TransportClosedError('sqlite');
      this.#busyTimeoutMs = options.busyTimeoutMs === undefined ? busyTimeoutOf(db) : checkBusyTimeout(options.busyTimeoutMs);
      this.database = db;
      this.#ownsDatabase = false;
      // The store migrated the file when it opened it; a connection opened elsewhere may be older.
      migrate(db);
      this.#statements = new QueueStatements(db);
    } else {
      this.#busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
      let prepared: QueueStatements | undefined;
      this.database = openDatabase(options.filename!, {
        ...(options.durability !== undefined && { durability: options.durability }),
        busyTimeoutMs: this.#busyTimeoutMs,
        check: (db) => assertSchemaNotNewer(db),
        setUp: (db) => {
          migrate(db);
          prepared = new QueueStatements(db);
        },
      });
      this.#ownsDatabase = true;
      this.#statements = prepared!;
    }
    const db = this.database;
    this.#connection = connectionLock(db);
    const statements = (): QueueStatements => this.#statements;
    this.#writer = new QueueWriter(db, statements, this.#connection, this.#busyTimeoutMs, () => queueSignal(db).notify());
    this.#wakeups = new QueueWakeups(db, this.#connection, statements);
    this.deadLetters = new SqliteDeadLetterQueue({
      read: (doing, work) => this.#read(doing, work),
      write: (doing, work) => this.#write(doing, work),
      prepare: (sql) => db.prepare(sql),
      parse: (json, what) => parseStored(json, db.name, what),
      assertOpen: () => this.#assertOpen(),
      now: () => Date.now(),
    });
  }

  /** How well sends, claims and acks are grouping into commits. */
  get writeStats(): QueueWriterStats {
    return this.#writer.stats;
  }

  enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (messages.length === 0) return Promise.resolve();
    // The JSON is written before the transaction, so the group commit holds the lock only for the inserts.
    const rows = messages.map((message) => ({
      destination: destination.name,
      id: message.envelope.id,
      partitionKey: message.envelope.partitionKey ?? null,
      visibleAt: message.deliverAt === null ? 0 : message.deliverAt.getTime(),
      envelope: envelopeJson(message),
    }));
    const doing = `${destination.kind === 'queue' ? 'sending to queue' : 'publishing to topic'} ${destination.name}`;
    return this.#write(doing, (s) => {
      const insert = destination.kind === 'queue' ? s.insertQueueMessage : s.insertTopicMessage;
      const now = Date.now();
      for (const row of rows) {
        // visible_at 0 would put a message sent now ahead of older ones waiting: it becomes visible at its commit.
        insert.run(row.visibleAt === 0 ? { ...row, visibleAt: now } : row);
      }
    });
  }

  declare(sources: readonly ConsumeSource[]): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const groups = sources.filter((source): source is { topic: string; group: string } => 'topic' in source);
    if (groups.length === 0) return Promise.resolve();
    return this.#write('declaring topic groups', (s) => {
      const now = new Date().toISOString();
      for (const { topic, group } of groups) s.declareGroup.run({ topic, group, now });
    });
  }

  async openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver> {
    this.#assertOpen();
    await this.declare([source]);
    const receiver = new SqliteReceiver(
      {
        read: (doing, work) => this.#read(doing, () => work(this.#statements)),
        write: (doing, work) => this.#write(doing, work),
        wakeups: this.#wakeups,
        pollIntervalMs: this.#pollIntervalMs,
        now: () => Date.now(),
        newId: () => uuidv7(),
        closed: this.#closed.signal,
        assertOpen: () => this.#assertOpen(),
      },
      source,
      options,
    );
    this.#receivers.add(receiver);
    return receiver;
  }

  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof messageId !== 'string') return Promise.resolve(false);
    return this.#write(`withdrawing message ${messageId}`, (s) => {
      if ('queue' in destination) return s.cancelInQueue.run({ id: messageId, destination: destination.queue }).changes > 0;
      if ('group' in destination) {
        const { destination: topic, group } = sourceColumns(destination);
        return s.cancelInGroup.run({ id: messageId, destination: topic, group }).changes > 0;
      }
      return s.cancelInTopic.run({ id: messageId, destination: destination.topic }).changes > 0;
    });
  }

  /** Finishes the writes already accepted, stops the receivers, and closes the file when the transport opened it. */
  close(): Promise<void> {
    this.#closing ??= this.#close(false);
    return this.#closing;
  }

  /**
   * Stops at once as a killed process would: receivers stop without releasing what they claimed
   * (their leases run out), queued writes are dropped, the connection is closed. For tests.
   * @internal
   */
  abandon(): Promise<void> {
    this.#closing ??= this.#close(true);
    return this.#closing;
  }

  async #close(abruptly: boolean): Promise<void> {
    this.#closed.abort();
    for (const receiver of this.#receivers) await receiver.close();
    this.#wakeups.stop();
    if (!abruptly) await this.#writer.drain();
    if (this.#ownsDatabase && this.database.open) {
      // A read-model transaction sharing the connection may still be awaiting its handler.
      if (!abruptly) while (!this.#connection.available) await this.#connection.whenFree();
      this.database.close();
    }
    queueSignal(this.database).notify();
  }

  #write<T>(doing: string, work: (statements: QueueStatements) => T): Promise<T> {
    return this.#writer.submit(doing, work);
  }

  #read<T>(doing: string, work: () => T): Promise<T> {
    return retryWhileBusy(doing, this.#busyTimeoutMs, () => {
      if (!this.database.open) throw new TransportClosedError('sqlite');
      return work();
    }, this.#connection).catch((error: unknown) => {
      throw typedStoreError(error, doing, this.database.name);
    });
  }

  #assertOpen(): void {
    if (this.#closing !== undefined || !this.database.open) throw new TransportClosedError('sqlite');
  }
}

