/**
 * The SQLite inbox: `handle(consumer, message, fn)` opens a write transaction on the connection,
 * records (consumer, message id) first and runs `fn` inside the same transaction, so the record
 * and the handler's writes commit together. The transaction stays open across `fn`'s awaits: the
 * connection's lock (connection-lock.ts) keeps the process's other work off the connection
 * meanwhile, and `fn` gets a guarded handle that refuses use after the commit.
 */
import {
  InvalidArgumentError,
  StoreBusyError,
  StoreClosedError,
  type Inbox,
  type InboxMessage,
  type InboxOutcome,
  type InboxPruneOptions,
  type InboxRetention,
} from '@eventloom/core';
import { assertInboxConsumer, assertInboxHandler, assertInboxMessage, pruneCutoff, startPeriodicPrune } from '@eventloom/core/adapter';
import type { Statement } from 'better-sqlite3';
import { busyBackoffMs, isBusy, retryWhileBusy } from '../busy.js';
import { connectionLock, type ConnectionLock } from '../connection-lock.js';
import { busyTimeoutOf, checkBusyTimeout, type SqliteDatabase } from '../open-database.js';
import { storeError, typedStoreError } from '../sqlite-errors.js';
import { TransactionScope } from '../transaction-guard.js';
import { assertDatabase, ensureOutboxTables } from './outbox.js';
import { INBOX_HAS, INBOX_PRUNE, INBOX_RECORD } from './outbox-sql.js';

export interface SqliteInboxOptions {
  /** The connection your handlers write on: usually `eventStore.database`. */
  readonly database: SqliteDatabase;
  /** Prune old records periodically. Default: never (call `prune`). */
  readonly retention?: InboxRetention;
  readonly clock?: () => Date;
  /** How long `handle` waits for another process's write lock before StoreBusyError. Default: the connection's (30 s). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens the inbox on `database`, migrating the file when it has not got the inbox table yet.
 *
 * @example
 * const inbox = openSqliteInbox({ database: store.database });
 * await inbox.handle('welcome-email', message, (tx) => {
 *   tx.prepare('INSERT INTO emails (user_id) VALUES (?)').run(message.data.userId);
 * });
 */
export function openSqliteInbox(options: SqliteInboxOptions): SqliteInbox {
  return new SqliteInbox(options);
}

const BUSY = Symbol('busy');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SqliteInbox implements Inbox<SqliteDatabase> {
  readonly database: SqliteDatabase;
  readonly #clock: () => Date;
  readonly #busyTimeoutMs: number;
  readonly #connection: ConnectionLock;
  readonly #record: Statement<[string, string, number]>;
  readonly #has: Statement<[string, string]>;
  readonly #prune: Statement<[number]>;
  readonly #begin: Statement<[]>;
  readonly #commit: Statement<[]>;
  readonly #rollback: Statement<[]>;
  readonly #savepoint: Statement<[]>;
  readonly #releaseSavepoint: Statement<[]>;
  readonly #rollbackTo: Statement<[]>;
  /** One owner per consumer: statements a handler prepared through its `tx` stay usable in its later transactions. */
  readonly #owners = new Map<string, object>();
  readonly #stopPruning: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(options: SqliteInboxOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be { database }');
    assertDatabase(options.database, 'inbox');
    this.database = options.database;
    this.#clock = options.clock ?? (() => new Date());
    this.#busyTimeoutMs = options.busyTimeoutMs === undefined ? busyTimeoutOf(this.database) : checkBusyTimeout(options.busyTimeoutMs);
    this.#connection = connectionLock(this.database);
    ensureOutboxTables(this.database);
    const db = this.database;
    try {
      this.#record = db.prepare(INBOX_RECORD);
      this.#has = db.prepare(INBOX_HAS).pluck();
      this.#prune = db.prepare(INBOX_PRUNE);
      // IMMEDIATE: the write lock at BEGIN, where SQLITE_BUSY can be waited out, never half-way.
      this.#begin = db.prepare('BEGIN IMMEDIATE');
      this.#commit = db.prepare('COMMIT');
      this.#rollback = db.prepare('ROLLBACK');
      this.#savepoint = db.prepare('SAVEPOINT inbox');
      this.#releaseSavepoint = db.prepare('RELEASE inbox');
      this.#rollbackTo = db.prepare('ROLLBACK TO inbox');
    } catch (error) {
      throw storeError(error, 'preparing the inbox statements', 'nothing', db.name);
    }
    this.#stopPruning = options.retention ? startPeriodicPrune((o) => this.prune(o), options.retention, undefined, this.#clock) : undefined;
  }

  async handle<R>(consumer: string, message: InboxMessage, fn: (tx: SqliteDatabase) => Promise<R> | R): Promise<InboxOutcome<R>> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage(message);
    assertInboxHandler(fn);
    // Inside a transaction this process holds on the connection (an inline handler's), the inbox nests in it.
    if (this.#connection.insideHolder && this.database.inTransaction) return this.#attempt(consumer, message.id, fn, true) as Promise<InboxOutcome<R>>;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#connection.exclusive(() => this.#attempt(consumer, message.id, fn, false), {
        operation: `handling message ${message.id} for ${consumer}`,
        timeoutMs: Math.max(0, this.#busyTimeoutMs - (Date.now() - started)),
      });
      if (outcome !== BUSY) return outcome;
      // Another process holds the write lock: this process's other work runs while this one waits.
      const waited = Date.now() - started;
      if (waited >= this.#busyTimeoutMs) throw new StoreBusyError(`Handling message ${message.id} for ${consumer}`, waited);
      await sleep(Math.min(busyBackoffMs(attempt), Math.max(1, this.#busyTimeoutMs - waited)));
    }
  }

  async #attempt<R>(consumer: string, messageId: string, fn: (tx: SqliteDatabase) => Promise<R> | R, nested: boolean): Promise<InboxOutcome<R> | typeof BUSY> {
    this.#assertOpen();
    const doing = `recording message ${messageId} for ${consumer} in the inbox`;
    try {
      (nested ? this.#savepoint : this.#begin).run();
    } catch (error) {
      if (!nested && isBusy(error)) return BUSY;
      throw storeError(error, doing, 'nothing', this.database.name);
    }
    let recorded: boolean;
    try {
      recorded = this.#record.run(consumer, messageId, this.#clock().getTime()).changes === 1;
    } catch (error) {
      this.#undo(nested);
      throw storeError(error, doing, 'nothing', this.database.name);
    }
    if (!recorded) {
      this.#undo(nested);
      return { duplicate: true };
    }
    const scope = new TransactionScope(this.database, `the inbox transaction of ${consumer} for message ${messageId}`);
    try {
      const result = await fn(scope.guard(this.#owner(consumer)));
      (nested ? this.#releaseSavepoint : this.#commit).run();
      return { duplicate: false, result };
    } catch (error) {
      this.#undo(nested);
      // The handler's own errors pass through as they are; SQLite's become typed.
      throw storeError(error, `handling message ${messageId} for ${consumer}`, 'nothing', this.database.name);
    } finally {
      scope.close();
    }
  }

  #undo(nested: boolean): void {
    // A failed statement can end the whole transaction (disk full, I/O); then there is nothing left to undo.
    if (!this.database.inTransaction) return;
    if (nested) {
      this.#rollbackTo.run();
      this.#releaseSavepoint.run();
    } else {
      this.#rollback.run();
    }
  }

  #owner(consumer: string): object {
    let owner = this.#owners.get(consumer);
    if (!owner) this.#owners.set(consumer, (owner = { consumer }));
    return owner;
  }

  async has(consumer: string, messageId: string): Promise<boolean> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage({ id: messageId });
    return this.#run(`looking up message ${messageId} for ${consumer}`, () => this.#has.get(consumer, messageId) !== undefined);
  }

  async prune(options: InboxPruneOptions): Promise<number> {
    this.#assertOpen();
    const cutoff = pruneCutoff(options).getTime();
    return this.#run('pruning the inbox', () => this.#prune.run(cutoff).changes);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stopPruning?.();
  }

  #run<T>(doing: string, work: () => T): Promise<T> {
    return retryWhileBusy(doing, this.#busyTimeoutMs, work, this.#connection).catch((error: unknown) => {
      throw typedStoreError(error, doing, this.database.name);
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('inbox');
    if (!this.database.open) throw new InvalidArgumentError('database', 'is closed: the inbox needs an open connection');
  }
}
