/**
 * The SQLite read-model store: read models in the same file as the events, written in
 * synchronous transactions that also carry the projection's checkpoint. Handlers get the raw
 * `Database` for plain SQL beside the document API.
 */
import {
  assertLeaseArguments,
  describeValue,
  InvalidArgumentError,
  isPromiseLike,
  projectionNamespace,
  resolveReadTarget,
  StoreBusyError,
  StoreClosedError,
  type DocumentCollection,
  type DocumentReader,
  type MaybePromise,
  type Position,
  type ProjectionDeadLetter,
  type ProjectionFailure,
  type ProjectionHandle,
  type ProjectionNamespace,
  type ProjectionState,
  type ReadModelStore,
  type ReadModelTransaction,
  type ReadModelView,
  type ReadTarget,
  type TransactionOptions,
} from '@eventloom/core';
import type { Statement } from 'better-sqlite3';
import { isBusy, retryWhileBusy } from '../busy.js';
import { busyTimeoutOf, checkBusyTimeout, openDatabase, type Durability, type SqliteDatabase } from '../open-database.js';
import { parseStored, storeError } from '../sqlite-errors.js';
import { TransactionScope } from '../transaction-guard.js';
import { DocumentBuffer, DocumentStatements, sqliteCollection } from './documents.js';
import { assertNotNewer, migrateReadModels, recordedReadModelVersion } from './schema.js';
import {
  ACQUIRE_LEASE,
  CREATE_PROJECTION,
  DELETE_NAMESPACE_DOCUMENTS,
  DELETE_PROJECTION,
  GET_ACTIVE,
  GET_PROJECTION,
  INSERT_DEAD_LETTER,
  LIST_DEAD_LETTERS,
  LIST_NAMESPACE_DEAD_LETTERS,
  LIST_PROJECTIONS,
  NAMESPACE_TABLES,
  RELEASE_LEASE,
  SET_ACTIVE,
  SET_CHECKPOINT,
  SET_FAILURE,
} from './sql.js';

/** What SQLite projection handlers get: documents, plus the connection for plain SQL in the same transaction. */
export interface SqliteProjectionHandle extends ProjectionHandle {
  /**
   * The connection; statements run inside the projection's transaction. Do not begin or commit
   * transactions. Documents written through `collection` reach `rm_documents` when the
   * transaction ends (they are batched), so read documents through `collection`, not SQL.
   */
  readonly db: SqliteDatabase;
  /**
   * The quoted name of this projection version's own table `name`, e.g. `"order-summary@2/orders"`,
   * to put in SQL. A new version gets new tables; a rebuild drops them.
   */
  table(name: string): string;
}

/** What readers of a SQLite read model get. */
export interface SqliteReadModelView extends ReadModelView {
  readonly db: SqliteDatabase;
  table(name: string): string;
}

export type SqliteReadModelStoreOptions =
  | {
      /** A connection to share — usually `eventStore.database`, so inline projections and appends share transactions. */
      readonly database: SqliteDatabase;
      readonly clock?: () => Date;
      /** How long a write waits for another process's lock; default: the connection's store's (`BUSY_TIMEOUT_MS`). */
      readonly busyTimeoutMs?: number;
    }
  | {
      /** A file to open (WAL); closed with the store. */
      readonly filename: string;
      readonly durability?: Durability;
      readonly clock?: () => Date;
      /** How long a write waits for another process's lock before StoreBusyError. Default `BUSY_TIMEOUT_MS` (30 s). */
      readonly busyTimeoutMs?: number;
    };

/**
 * Opens the read-model store on a SQLite connection or file, creating its tables when needed.
 *
 * @example
 * const eventStore = openSqliteEventStore({ filename: 'app.db' });
 * const readModels = openSqliteReadModels({ database: eventStore.database });
 */
export function openSqliteReadModels(options: SqliteReadModelStoreOptions): SqliteReadModelStore {
  return new SqliteReadModelStore(options);
}

type StateRow = [namespace: string, name: string, version: bigint, checkpoint: bigint | null, failure: string | null, updatedAt: string];
type DeadLetterRow = [namespace: string, position: bigint, eventId: string, eventType: string, streamId: string, error: string, attempts: bigint, recordedAt: string];

const TABLE_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

class Statements {
  readonly documents: DocumentStatements;
  readonly getState: Statement<[string], StateRow>;
  readonly listStates: Statement<[], [...StateRow, bigint | null]>;
  readonly createState: Statement<[string, string, number, string]>;
  readonly setCheckpoint: Statement<[bigint, string, string]>;
  readonly setFailure: Statement<[string | null, string, string]>;
  readonly deleteState: Statement<[string]>;
  readonly deleteDocuments: Statement<[string]>;
  readonly getActive: Statement<[string], bigint>;
  readonly setActive: Statement<[string, number, string]>;
  readonly acquireLease: Statement<[string, string, number, number]>;
  readonly releaseLease: Statement<[string, string]>;
  readonly insertDeadLetter: Statement<[string, bigint, string, string, string, string, number, string]>;
  readonly listDeadLetters: Statement<[], DeadLetterRow>;
  readonly listNamespaceDeadLetters: Statement<[string], DeadLetterRow>;
  readonly namespaceTables: Statement<[number, string], string>;

  constructor(db: SqliteDatabase) {
    this.documents = new DocumentStatements(db);
    this.getState = db.prepare<[string], StateRow>(GET_PROJECTION).raw().safeIntegers();
    this.listStates = db.prepare<[], [...StateRow, bigint | null]>(LIST_PROJECTIONS).raw().safeIntegers();
    this.createState = db.prepare(CREATE_PROJECTION);
    this.setCheckpoint = db.prepare(SET_CHECKPOINT);
    this.setFailure = db.prepare(SET_FAILURE);
    this.deleteState = db.prepare(DELETE_PROJECTION);
    this.deleteDocuments = db.prepare(DELETE_NAMESPACE_DOCUMENTS);
    this.getActive = db.prepare<[string], bigint>(GET_ACTIVE).pluck().safeIntegers();
    this.setActive = db.prepare(SET_ACTIVE);
    this.acquireLease = db.prepare(ACQUIRE_LEASE);
    this.releaseLease = db.prepare(RELEASE_LEASE);
    this.insertDeadLetter = db.prepare(INSERT_DEAD_LETTER);
    this.listDeadLetters = db.prepare<[], DeadLetterRow>(LIST_DEAD_LETTERS).raw().safeIntegers();
    this.listNamespaceDeadLetters = db.prepare<[string], DeadLetterRow>(LIST_NAMESPACE_DEAD_LETTERS).raw().safeIntegers();
    this.namespaceTables = db.prepare<[number, string], string>(NAMESPACE_TABLES).pluck();
  }
}

export class SqliteReadModelStore implements ReadModelStore<SqliteProjectionHandle, SqliteReadModelView> {
  readonly synchronous = true;
  /** The connection the read models live on. */
  readonly database: SqliteDatabase;
  readonly #statements: Statements;
  readonly #clock: () => Date;
  readonly #ownsDatabase: boolean;
  readonly #busyTimeoutMs: number;
  #closed = false;

  constructor(options: SqliteReadModelStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', "must be { database } (a better-sqlite3 connection) or { filename: 'app.db' }");
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new InvalidArgumentError('clock', 'must be a function returning a Date');
    this.#clock = options.clock ?? (() => new Date());
    if ('database' in options) {
      if (!options.database || typeof options.database.prepare !== 'function') {
        throw new InvalidArgumentError('database', 'must be a better-sqlite3 connection, e.g. eventStore.database');
      }
      this.database = options.database;
      this.#ownsDatabase = false;
      this.#busyTimeoutMs = options.busyTimeoutMs === undefined ? busyTimeoutOf(this.database) : checkBusyTimeout(options.busyTimeoutMs);
    } else {
      const clock = this.#clock;
      this.#busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
      this.database = openDatabase(options.filename, {
        ...(options.durability !== undefined && { durability: options.durability }),
        busyTimeoutMs: this.#busyTimeoutMs,
        check: (db) => assertNotNewer(db, recordedReadModelVersion(db)),
        setUp: (db) => migrateReadModels(db, clock),
      });
      this.#ownsDatabase = true;
    }
    try {
      if (!this.#ownsDatabase) migrateReadModels(this.database, this.#clock);
      this.#statements = new Statements(this.database);
    } catch (error) {
      if (this.#ownsDatabase) this.database.close();
      throw storeError(error, 'creating the read-model tables', 'nothing', this.database.name);
    }
  }

  /**
   * `transactionSync`, waiting (without blocking the event loop) for another process's write lock
   * up to the busy timeout: what the ProjectionRunner uses.
   */
  async transaction<R>(fn: (tx: ReadModelTransaction<SqliteProjectionHandle>) => MaybePromise<R>, options?: TransactionOptions): Promise<R> {
    this.#assertOpen();
    // BUSY can only come from BEGIN, before `fn` ran: retrying runs it once.
    return retryWhileBusy('Writing read models', this.#busyTimeoutMs, () => this.#transaction(fn as (tx: SqliteReadModelTransaction) => R, options));
  }

  /**
   * `transaction`, synchronously: `fn` runs in one transaction (a savepoint when the connection
   * is already in one, as inside an append) and must not return a promise. A write transaction
   * takes the write lock when it begins (waiting up to the busy timeout for other processes);
   * a `readOnly` one never waits for writers.
   */
  transactionSync<R>(fn: (tx: SqliteReadModelTransaction) => R, options?: TransactionOptions): R {
    this.#assertOpen();
    try {
      return this.#transaction(fn, options);
    } catch (error) {
      throw isBusy(error) ? new StoreBusyError('Writing read models', 0, { cause: error }) : error;
    }
  }

  /** One attempt; SQLITE_BUSY from BEGIN comes out raw (nothing ran), every other error typed. */
  #transaction<R>(fn: (tx: SqliteReadModelTransaction) => R, options?: TransactionOptions): R {
    const tx = new SqliteReadModelTransaction(this.database, this.#statements, this.#clock);
    let began = false;
    try {
      return this.database
        .transaction(() => {
          began = true;
          const result = fn(tx);
          if (isPromiseLike(result)) {
            Promise.resolve(result).catch(() => undefined);
            throw new InvalidArgumentError(
              'read-model transaction',
              'returned a promise; SQLite read-model transactions are synchronous (do the async work before or after)',
            );
          }
          tx.flush();
          return result;
        })
        [options?.readOnly ? 'deferred' : 'immediate']();
    } catch (error) {
      if (!began && isBusy(error)) throw error;
      throw storeError(error, 'writing read models', 'nothing', this.database.name);
    } finally {
      tx.finish();
    }
  }

  async read<R>(target: ReadTarget, fn: (view: SqliteReadModelView) => MaybePromise<R>): Promise<R> {
    return await this.readSync(target, fn);
  }

  /**
   * Reads the serving version of a projection synchronously — right after an append with an
   * inline projection, it already shows that append's events.
   */
  readSync<R>(target: ReadTarget, fn: (view: SqliteReadModelView) => R): R {
    this.#assertOpen();
    try {
      const projection = resolveReadTarget(target, (name) => {
        const version = this.#statements.getActive.get(name);
        return version === undefined ? null : Number(version);
      });
      return fn(readView(this.database, this.#statements, projection));
    } catch (error) {
      // SQLite's own failures (a damaged file, I/O) come out typed; the reader's errors pass through.
      throw storeError(error, 'reading read models', 'nothing', this.database.name);
    }
  }

  async tryAcquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLeaseArguments(key, owner, ttlMs);
    return this.#run(`taking the lease ${key}`, () => {
      const now = this.#clock().getTime();
      return this.#statements.acquireLease.run(key, owner, now + ttlMs, now).changes > 0;
    });
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#assertOpen();
    await this.#run(`releasing the lease ${key}`, () => this.#statements.releaseLease.run(key, owner));
  }

  async listProjections(): Promise<readonly (ProjectionState & { readonly active: boolean })[]> {
    this.#assertOpen();
    return this.#run('listing projections', () =>
      this.#statements.listStates.all().map((row) => ({ ...decodeState(row as unknown as StateRow, this.database.name), active: row[6] === row[2] })),
    );
  }

  async deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]> {
    this.#assertOpen();
    return this.#run('listing dead letters', () => {
      const rows = namespace === undefined ? this.#statements.listDeadLetters.all() : this.#statements.listNamespaceDeadLetters.all(namespace);
      return rows.map(decodeDeadLetter);
    });
  }

  /** One statement: waits out another process's lock, and fails only with typed errors. */
  async #run<T>(doing: string, work: () => T): Promise<T> {
    try {
      return await retryWhileBusy(doing, this.#busyTimeoutMs, work);
    } catch (error) {
      throw storeError(error, doing, 'nothing', this.database.name);
    }
  }

  /** Closes the connection if the store opened it; a shared one is left to its owner. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDatabase && this.database.open) this.database.close();
  }

  #assertOpen(): void {
    if (this.#closed || !this.database.open) throw new StoreClosedError('read-model store');
  }
}

/** One SQLite read-model transaction; every method runs synchronously on the connection. */
export class SqliteReadModelTransaction implements ReadModelTransaction<SqliteProjectionHandle> {
  #open = true;
  readonly #buffer: DocumentBuffer;
  readonly #scope: TransactionScope;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly statements: Statements,
    private readonly clock: () => Date,
  ) {
    this.#buffer = new DocumentBuffer(statements.documents);
    this.#scope = new TransactionScope(db, 'the read-model transaction');
  }

  handle(projection: ProjectionNamespace): SqliteProjectionHandle {
    const isOpen = (): void => this.#assertOpen();
    const { statements } = this;
    // Handlers get the connection only for as long as this transaction lasts.
    const db = this.#scope.guard(`projection:${projection.namespace}`);
    const buffer = this.#buffer;
    // Handlers ask for their collection on every event; build each once per transaction.
    const collections = new Map<string, DocumentCollection<object>>();
    return {
      projection,
      db,
      table: (name) => tableName(projection, name),
      collection: <T extends object>(name: string): DocumentCollection<T> => {
        let collection = collections.get(name);
        if (!collection) {
          collection = sqliteCollection<object>(statements.documents, projection.namespace, name, isOpen, buffer);
          collections.set(name, collection);
        }
        return collection as DocumentCollection<T>;
      },
    };
  }

  getState(namespace: string): ProjectionState | null {
    this.#assertOpen();
    const row = this.statements.getState.get(namespace);
    return row === undefined ? null : decodeState(row, this.db.name);
  }

  createState(projection: ProjectionNamespace): void {
    this.#assertOpen();
    this.statements.createState.run(projection.namespace, projection.name, projection.version, this.#now());
  }

  getCheckpoint(namespace: string): Position | null {
    return this.getState(namespace)?.checkpoint ?? null;
  }

  setCheckpoint(namespace: string, position: Position): void {
    this.#assertOpen();
    if (typeof position !== 'bigint' || position < 0n) throw new InvalidArgumentError('checkpoint', 'must be a non-negative bigint');
    this.#requireChange(this.statements.setCheckpoint.run(position, this.#now(), namespace).changes, namespace);
  }

  setFailure(namespace: string, failure: ProjectionFailure | null): void {
    this.#assertOpen();
    const json = failure === null ? null : JSON.stringify({ ...failure, position: failure.position.toString() });
    this.#requireChange(this.statements.setFailure.run(json, this.#now(), namespace).changes, namespace);
  }

  addDeadLetter(deadLetter: ProjectionDeadLetter): void {
    this.#assertOpen();
    this.statements.insertDeadLetter.run(
      deadLetter.projection.namespace,
      deadLetter.position,
      deadLetter.eventId,
      deadLetter.eventType,
      deadLetter.streamId,
      deadLetter.error,
      deadLetter.attempts,
      deadLetter.recordedAt,
    );
  }

  getActiveVersion(name: string): number | null {
    this.#assertOpen();
    const version = this.statements.getActive.get(name);
    return version === undefined ? null : Number(version);
  }

  setActiveVersion(name: string, version: number): void {
    this.#assertOpen();
    projectionNamespace(name, version);
    this.statements.setActive.run(name, version, this.#now());
  }

  dropNamespace(namespace: string): void {
    this.#assertOpen();
    this.#buffer.discard(namespace);
    this.statements.deleteDocuments.run(namespace);
    this.statements.deleteState.run(namespace);
    const prefix = `${namespace}/`;
    for (const table of this.statements.namespaceTables.all(prefix.length, prefix)) {
      this.db.exec(`DROP TABLE ${quote(table)}`);
    }
  }

  /** Writes the documents changed so far; runs before every commit. */
  flush(): void {
    this.#buffer.flush();
  }

  finish(): void {
    this.#open = false;
    this.#scope.close();
  }

  #requireChange(changes: number, namespace: string): void {
    if (changes === 0) throw new InvalidArgumentError('projection namespace', `${namespace} has no state yet; call createState first`);
  }

  #now(): string {
    return this.clock().toISOString();
  }

  #assertOpen(): void {
    // The document API's contract on every store (conformance suite): INVALID_ARGUMENT; raw SQL through `db` gets TRANSACTION_CLOSED.
    if (!this.#open) throw new InvalidArgumentError('read-model transaction', 'is over: use the handle only inside the transaction that gave it');
  }
}

function readView(db: SqliteDatabase, statements: Statements, projection: ProjectionNamespace): SqliteReadModelView {
  const always = (): void => undefined;
  return {
    projection,
    db,
    table: (name) => tableName(projection, name),
    collection: <T extends object>(name: string): DocumentReader<T> => sqliteCollection<T>(statements.documents, projection.namespace, name, always, null),
  };
}

function tableName(projection: ProjectionNamespace, name: string): string {
  if (typeof name !== 'string' || !TABLE_PATTERN.test(name)) {
    throw new InvalidArgumentError('table name', `must be 1 to 64 letters, digits or '_', got ${describeValue(name)}`);
  }
  return quote(`${projection.namespace}/${name}`);
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function decodeState(row: StateRow, filename: string): ProjectionState {
  const [namespace, name, version, checkpoint, failure, updatedAt] = row;
  return {
    projection: { name, version: Number(version), namespace },
    checkpoint,
    failure: failure === null ? null : decodeFailure(failure, filename),
    updatedAt,
  };
}

function decodeFailure(json: string, filename: string): ProjectionFailure {
  const parsed = parseStored<Omit<ProjectionFailure, 'position'> & { position: string }>(json, filename, 'a projection failure record');
  return { ...parsed, position: BigInt(parsed.position) };
}

function decodeDeadLetter(row: DeadLetterRow): ProjectionDeadLetter {
  const [namespace, position, eventId, eventType, streamId, error, attempts, recordedAt] = row;
  const at = namespace.lastIndexOf('@');
  return {
    projection: projectionNamespace(namespace.slice(0, at), Number(namespace.slice(at + 1))),
    position,
    eventId,
    eventType,
    streamId,
    error,
    attempts: Number(attempts),
    recordedAt,
  };
}
