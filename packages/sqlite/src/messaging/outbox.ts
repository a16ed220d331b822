/**
 * The SQLite state-based outbox: `outbox.add(db, message)` inside the caller's own better-sqlite3
 * transaction writes the message beside the caller's rows (migration 3's `outbox_messages`), and
 * the relay (core's) moves committed rows to the transport and deletes them.
 *
 * The relay's statements wait for a transaction this process holds open across an await on the
 * connection (an inbox handler's, a read-model transaction): a read inside it would see rows that
 * may still roll back.
 */
import { InvalidArgumentError, type Outbox, type OutboxMessage, type OutboxRelay, type OutboxRelayOptions } from '@eventloom/core';
import {
  AppendSignal,
  assertOutboxName,
  decodeStoredOutboxMessage,
  encodeStoredOutboxMessage,
  prepareOutboxMessages,
  relayOutbox,
  type OutboxRecord,
  type OutboxStorage,
} from '@eventloom/core/adapter';
import type { Statement } from 'better-sqlite3';
import { retryWhileBusy } from '../busy.js';
import { connectionLock, type ConnectionLock } from '../connection-lock.js';
import { migrate, recordedSchemaVersion } from '../migrate.js';
import { busyTimeoutOf, checkBusyTimeout, type SqliteDatabase } from '../open-database.js';
import { storeError, typedStoreError } from '../sqlite-errors.js';
import { OUTBOX_ACQUIRE, OUTBOX_COUNT, OUTBOX_DELETE, OUTBOX_HELD, OUTBOX_INSERT, OUTBOX_PEEK, OUTBOX_RELEASE } from './outbox-sql.js';

/** The transport contract (imported this way until the root exports `Transport`). */
type Transport = Parameters<typeof relayOutbox>[1];

/** The schema version that has the outbox and inbox tables. */
export const OUTBOX_SCHEMA_VERSION = 3;

export interface SqliteOutboxOptions {
  /** The connection the relay reads: usually `eventStore.database`, the file your own tables are in. */
  readonly database: SqliteDatabase;
  /** Default `default`. One relay per name is active at a time. */
  readonly name?: string;
  readonly clock?: () => Date;
  /** How long the relay's statements wait for another process's write lock. Default: the connection's (30 s). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens the outbox on `database`, migrating the file when it has not got the outbox tables yet.
 *
 * @example
 * const outbox = openSqliteOutbox({ database: store.database });
 * db.transaction(() => {
 *   db.prepare('INSERT INTO users (id, email) VALUES (?, ?)').run(id, email);
 *   outbox.add(db, { topic: 'users', type: 'UserRegistered', data: { id, email } });
 * })();
 */
export function openSqliteOutbox(options: SqliteOutboxOptions): SqliteOutbox {
  return new SqliteOutbox(options);
}

/** Migrates `db` to the version with the outbox and inbox tables, if it is older. */
export function ensureOutboxTables(db: SqliteDatabase): void {
  let version: number;
  try {
    version = recordedSchemaVersion(db);
  } catch (error) {
    throw storeError(error, 'reading the schema version', 'nothing', db.name);
  }
  if (version < OUTBOX_SCHEMA_VERSION) migrate(db);
}

export function assertDatabase(database: unknown, what: string): asserts database is SqliteDatabase {
  if (database === null || typeof database !== 'object' || typeof (database as SqliteDatabase).prepare !== 'function') {
    throw new InvalidArgumentError('database', `must be a better-sqlite3 connection (e.g. eventStore.database) for the ${what}`);
  }
}

export class SqliteOutbox implements Outbox<SqliteDatabase> {
  readonly name: string;
  readonly database: SqliteDatabase;
  readonly #clock: () => Date;
  readonly #busyTimeoutMs: number;
  readonly #connection: ConnectionLock;
  readonly #signal = new AppendSignal();
  readonly #insert: Statement;
  readonly #peek: Statement<[string, number], { seq: bigint; message: string }>;
  readonly #count: Statement<[string], number>;
  readonly #delete: Statement;
  readonly #acquire: Statement;
  readonly #release: Statement<[string, string]>;
  readonly #held: Statement<[string, string, bigint]>;
  readonly #removeFenced: (seqs: string, holder: string, epoch: bigint) => boolean;

  constructor(options: SqliteOutboxOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be { database, name? }');
    assertDatabase(options.database, 'outbox');
    const name = options.name ?? 'default';
    assertOutboxName(name, 'name');
    this.name = name;
    this.database = options.database;
    this.#clock = options.clock ?? (() => new Date());
    this.#busyTimeoutMs = options.busyTimeoutMs === undefined ? busyTimeoutOf(this.database) : checkBusyTimeout(options.busyTimeoutMs);
    this.#connection = connectionLock(this.database);
    ensureOutboxTables(this.database);
    const db = this.database;
    try {
      this.#insert = db.prepare(OUTBOX_INSERT);
      this.#peek = db.prepare<[string, number], { seq: bigint; message: string }>(OUTBOX_PEEK).safeIntegers(true);
      this.#count = db.prepare<[string], number>(OUTBOX_COUNT).pluck();
      this.#delete = db.prepare(OUTBOX_DELETE);
      this.#acquire = db.prepare(OUTBOX_ACQUIRE).pluck().safeIntegers(true);
      this.#release = db.prepare(OUTBOX_RELEASE);
      this.#held = db.prepare(OUTBOX_HELD);
    } catch (error) {
      throw storeError(error, 'preparing the outbox statements', 'nothing', db.name);
    }
    this.#removeFenced = db.transaction((seqs: string, holder: string, epoch: bigint) => {
      if (this.#held.get(this.name, holder, epoch) === undefined) return false;
      this.#delete.run({ outbox: this.name, seqs });
      return true;
    }).immediate as unknown as (seqs: string, holder: string, epoch: bigint) => boolean;
  }

  /**
   * Writes `messages` inside `tx`'s open transaction (a better-sqlite3 connection on this file,
   * inside `db.transaction(…)` or an inbox handler's `tx`). Synchronous, so it fits a
   * better-sqlite3 transaction function. Returns the message ids.
   */
  add(tx: SqliteDatabase, messages: OutboxMessage | readonly OutboxMessage[]): readonly string[] {
    assertDatabase(tx, 'outbox message (the connection inside your transaction)');
    if (!tx.inTransaction) {
      throw new InvalidArgumentError(
        'tx',
        'has no open transaction: call outbox.add inside db.transaction(() => { … })() (or an inbox handler, with its tx), so the messages commit with your writes',
      );
    }
    const prepared = prepareOutboxMessages(messages, this.#clock());
    const addedAt = this.#clock().toISOString();
    try {
      // The caller's connection (maybe a guarded one) prepares its own; ours is reused.
      const insert = tx === this.database ? this.#insert : tx.prepare(OUTBOX_INSERT);
      for (const message of prepared) insert.run(this.name, encodeStoredOutboxMessage(message), addedAt);
    } catch (error) {
      throw storeError(error, `adding ${prepared.length} messages to the outbox ${this.name}`, 'nothing', tx.name);
    }
    // By the next turn a synchronous transaction has committed; a relay on an awaited one finds it on its poll.
    setImmediate(() => this.#signal.notify());
    return prepared.map((message) => message.id);
  }

  startRelay(transport: Transport, options?: OutboxRelayOptions): OutboxRelay {
    return relayOutbox(this.#storage(), transport, options);
  }

  pending(): Promise<number> {
    return this.#run('counting the outbox', () => this.#count.get(this.name)!);
  }

  #run<T>(doing: string, work: () => T): Promise<T> {
    return retryWhileBusy(doing, this.#busyTimeoutMs, work, this.#connection).catch((error: unknown) => {
      throw typedStoreError(error, doing, this.database.name);
    });
  }

  #storage(): OutboxStorage {
    const name = this.name;
    return {
      name,
      acquire: (holder, ttlMs) =>
        this.#run(`taking the outbox ${name}'s relay lease`, () => {
          const epoch = this.#acquire.get({ outbox: name, holder, now: Date.now(), ttl: Math.ceil(ttlMs) }) as bigint | undefined;
          return epoch === undefined ? null : BigInt(epoch);
        }),
      release: async (holder) => {
        await this.#run(`releasing the outbox ${name}'s relay lease`, () => this.#release.run(name, holder));
      },
      peek: (limit) =>
        this.#run(`reading the outbox ${name}`, () =>
          this.#peek.all(name, limit).map((row): OutboxRecord => ({ seq: BigInt(row.seq), message: decodeStoredOutboxMessage(row.message) })),
        ),
      remove: (lease, seqs) =>
        this.#run(`deleting relayed messages of the outbox ${name}`, () =>
          this.#removeFenced(`[${seqs.join(',')}]`, lease.holder, lease.epoch),
        ),
      waitForRows: (timeoutMs, signal) => this.#signal.wait(timeoutMs, signal),
      count: () => this.pending(),
    };
  }
}
