/**
 * The SQLite read-model store: read models in the same file as the events, written in
 * transactions that also carry the projection's checkpoint. Transactions are awaited between
 * BEGIN and COMMIT (handlers may await) and serialized per connection (connection-lock.ts).
 * Handlers get the raw `Database` for plain SQL beside the document API.
 */
import {
  InvalidArgumentError,
  StoreBusyError,
  StoreClosedError,
  StoreUnavailableError,
  type CollectionDefinition,
  type CollectionRef,
  type DocumentCollection,
  type DocumentReader,
  type JsonObject,
  type Position,
  type ProjectionDeadLetter,
  type ProjectionFailure,
  type ProjectionHandle,
  type ProjectionState,
  type ReadModelStore,
  type ReadModelTransaction,
  type ReadModelView,
  type TransactionOptions,
  type WaitForPositionOptions,
} from '@eventloom/core';
import {
  AppendSignal,
  assertLeaseArguments,
  collectionName,
  describeValue,
  projectionNamespace,
  resolveReadTarget,
  waitForCheckpoint,
  type CheckpointSnapshot,
  type ProjectionNamespace,
  type ReadTarget,
} from '@eventloom/core/adapter';
import type { Statement } from 'better-sqlite3';
import { busyBackoffMs, isBusy, retryWhileBusy } from '../busy.js';
import { connectionLock, type ConnectionLock } from '../connection-lock.js';
import { FileChanges } from '../file-changes.js';
import { busyTimeoutOf, checkBusyTimeout, openDatabase, type Durability, type SqliteDatabase } from '../open-database.js';
import { parseStored, storeError, typedStoreError } from '../sqlite-errors.js';
import { TransactionScope } from '../transaction-guard.js';
import { commitSignalOf, type CommitSignal } from './commit-signal.js';
import { DocumentBuffer, DocumentStatements, sqliteCollection } from './documents.js';
import { createIndexSql, indexName, quoteIdentifier } from './query-sql.js';
import { assertNotNewer, migrateReadModels, recordedReadModelVersion } from './schema.js';
import {
  ACQUIRE_LEASE,
  CREATE_PROJECTION,
  DELETE_NAMESPACE_DOCUMENTS,
  DELETE_PROJECTION,
  GET_ACTIVE,
  GET_PROJECTION,
  INDEX_SQL,
  INSERT_DEAD_LETTER,
  LIST_DEAD_LETTERS,
  LIST_NAMESPACE_DEAD_LETTERS,
  LIST_PROJECTIONS,
  NAMESPACE_INDEXES,
  NAMESPACE_TABLES,
  RELEASE_LEASE,
  SET_ACTIVE,
  SET_CHECKPOINT,
  SET_FAILURE,
} from './sql.js';

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
  readonly namespaceIndexes: Statement<[number, string], string>;
  readonly indexSql: Statement<[string], string | null>;
  readonly beginWrite: Statement<[]>;
  readonly beginRead: Statement<[]>;
  readonly commit: Statement<[]>;
  readonly rollback: Statement<[]>;
  readonly savepoint: Statement<[]>;
  readonly release: Statement<[]>;
  readonly rollbackTo: Statement<[]>;

  constructor(db: SqliteDatabase) {
    // IMMEDIATE: a write transaction takes the write lock at BEGIN (where SQLITE_BUSY can be retried), never half-way.
    this.beginWrite = db.prepare('BEGIN IMMEDIATE');
    this.beginRead = db.prepare('BEGIN DEFERRED');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT read_models');
    this.release = db.prepare('RELEASE read_models');
    this.rollbackTo = db.prepare('ROLLBACK TO read_models');
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
    this.namespaceIndexes = db.prepare<[number, string], string>(NAMESPACE_INDEXES).pluck();
    this.indexSql = db.prepare<[string], string | null>(INDEX_SQL).pluck();
  }
}

/** Longest time between two reads of the checkpoint when nothing woke the waiter. */
const WAIT_POLL_MS = 1_000;

export class SqliteReadModelStore implements ReadModelStore<SqliteProjectionHandle, SqliteReadModelView> {
  /** The connection the read models live on. */
  readonly database: SqliteDatabase;
  readonly #statements: Statements;
  readonly #clock: () => Date;
  readonly #ownsDatabase: boolean;
  readonly #busyTimeoutMs: number;
  readonly #connection: ConnectionLock;
  /** Commits to this file from this process; waiters of every store on the file listen. */
  readonly #commits: CommitSignal;
  /** Wakes this store's waiters: on this process's commits, and when the file's data_version moves. */
  readonly #changed = new AppendSignal();
  readonly #fileChanges: FileChanges;
  readonly #unlisten: () => void;
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
    this.#connection = connectionLock(this.database);
    try {
      if (!this.#ownsDatabase) migrateReadModels(this.database, this.#clock);
      this.#statements = new Statements(this.database);
    } catch (error) {
      if (this.#ownsDatabase) this.database.close();
      throw storeError(error, 'creating the read-model tables', 'nothing', this.database.name);
    }
    this.#fileChanges = new FileChanges(this.database, this.#connection, () => this.#changed.notify());
    this.#commits = commitSignalOf(this.database);
    this.#unlisten = this.#commits.listen(() => this.#changed.notify());
  }

  /**
   * Runs `fn` in one transaction, awaiting it between BEGIN and COMMIT: handlers may await, and
   * their writes still commit together or not at all. The connection's lock (connection-lock.ts)
   * keeps everything else of this process off the connection meanwhile (appends, reads and other
   * transactions queue), so nothing joins this transaction or sees its uncommitted writes. Called
   * from inside a transaction on the same connection (an inline projection inside an append), it
   * nests as a savepoint. A write transaction waits (without blocking the event loop) for another
   * process's write lock up to the busy timeout; a `readOnly` one never waits for writers.
   */
  async transaction<R>(fn: (tx: ReadModelTransaction<SqliteProjectionHandle>) => Promise<R> | R, options?: TransactionOptions): Promise<R> {
    this.#assertOpen();
    if (this.#connection.insideHolder) return this.#attempt(fn, options) as Promise<R>;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#connection.exclusive(
        async () => {
          this.#assertOpen();
          return this.#attempt(fn, options);
        },
        { operation: 'writing read models', timeoutMs: Math.max(0, this.#busyTimeoutMs - (Date.now() - started)) },
      );
      if (outcome !== BUSY) return outcome;
      // Another process holds the write lock: this process's other work runs while this one waits.
      const waited = Date.now() - started;
      if (waited >= this.#busyTimeoutMs) throw new StoreBusyError('Writing read models', waited);
      await sleep(Math.min(busyBackoffMs(attempt), Math.max(1, this.#busyTimeoutMs - waited)));
    }
  }

  /** One attempt, the caller holding the connection; BUSY when BEGIN met another process's lock (nothing ran). */
  async #attempt<R>(fn: (tx: SqliteReadModelTransaction) => Promise<R> | R, options?: TransactionOptions): Promise<R | typeof BUSY> {
    const s = this.#statements;
    const nested = this.database.inTransaction;
    try {
      if (nested) s.savepoint.run();
      else (options?.readOnly ? s.beginRead : s.beginWrite).run();
    } catch (error) {
      if (!nested && isBusy(error)) return BUSY;
      throw storeError(error, 'starting a read-model transaction', 'nothing', this.database.name);
    }
    const tx = new SqliteReadModelTransaction(this.database, this.#statements, this.#clock, options?.batchWrites === false);
    try {
      const result = await fn(tx);
      tx.flush();
      if (nested) s.release.run();
      else s.commit.run();
      // Nested, the commit is the outer transaction's (an append's): waiters are told once it has ended.
      if (tx.movedCheckpoint) this.#connection.afterRelease(() => this.#commits.notify());
      return result;
    } catch (error) {
      // A failed statement can end the whole transaction (disk full, I/O); then there is nothing left to undo.
      if (this.database.inTransaction) {
        if (nested) {
          s.rollbackTo.run();
          s.release.run();
        } else {
          s.rollback.run();
        }
      }
      throw permanentIfRefused(error, storeError(error, 'writing read models', 'nothing', this.database.name));
    } finally {
      tx.finish();
    }
  }

  /**
   * Runs `fn` against the serving version of a projection (or the given one), in a read
   * transaction: one consistent snapshot however many queries `fn` makes and however long it
   * awaits. It holds the connection like a write transaction does, so keep `fn` to its queries.
   * Right after an append with an inline projection, it already shows that append's events.
   */
  async read<R>(target: ReadTarget, fn: (view: SqliteReadModelView) => Promise<R> | R): Promise<R> {
    this.#assertOpen();
    const outcome = await this.transaction(async () => {
      const projection = resolveReadTarget(target, (name) => {
        const version = this.#statements.getActive.get(name);
        return version === undefined ? null : Number(version);
      });
      let open = true;
      const isOpen = (): void => {
        if (!open) throw new InvalidArgumentError('read-model view', 'is over: use the view only inside the read that gave it');
      };
      try {
        return { value: await fn(readView(this.database, this.#statements, projection, isOpen)) };
      } finally {
        open = false;
      }
    }, { readOnly: true });
    return outcome.value;
  }

  /**
   * Resolves once the serving (or given) version has applied everything up to `position`,
   * whichever process runs it: woken at once by this process's commits, and within a few
   * milliseconds by other processes' (a cheap `PRAGMA data_version` poll while anyone waits).
   */
  waitForPosition(projection: ReadTarget, position: Position, options?: WaitForPositionOptions): Promise<void> {
    this.#assertOpen();
    let last: CheckpointSnapshot | undefined;
    return waitForCheckpoint(projection, position, options, {
      pollIntervalMs: WAIT_POLL_MS,
      changed: (ms, signal) => this.#nextChange(ms, signal),
      read: async (name, version) => {
        this.#assertOpen();
        // Never from a transaction open on this connection (nor waiting past the waiter's deadline for
        // it): what was committed when last read, and a look again once that transaction has ended.
        if (!this.#connection.available) {
          this.#connection.afterRelease(() => this.#changed.notify());
          return last ?? { namespace: version === undefined ? null : `${name}@${version}`, checkpoint: null, failure: null };
        }
        last = await this.#run(`reading the checkpoint of ${name}`, () => {
          this.#assertOpen();
          const serving = version ?? (() => {
            const active = this.#statements.getActive.get(name);
            return active === undefined ? undefined : Number(active);
          })();
          if (serving === undefined) return { namespace: null, checkpoint: null, failure: null };
          const namespace = projectionNamespace(name, serving).namespace;
          const row = this.#statements.getState.get(namespace);
          const state = row === undefined ? null : decodeState(row, this.database.name);
          return { namespace, checkpoint: state?.checkpoint ?? null, failure: state?.failure ?? null };
        });
        return last;
      },
    });
  }

  /** The next change that may have moved a checkpoint, `ms` from now at the latest. Starts listening before it returns. */
  #nextChange(ms: number, signal: AbortSignal): Promise<void> {
    return this.#fileChanges.watch(() => this.#changed.wait(ms, signal));
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

  /** One statement, after any transaction open on the connection: waits out another process's lock, fails only with typed errors. */
  async #run<T>(doing: string, work: () => T): Promise<T> {
    try {
      return await retryWhileBusy(doing, this.#busyTimeoutMs, work, this.#connection);
    } catch (error) {
      throw typedStoreError(error, doing, this.database.name);
    }
  }

  /** Closes the connection if the store opened it (after any transaction on it); a shared one is left to its owner. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    this.#fileChanges.stop();
    this.#changed.notify();
    if (this.#ownsDatabase) {
      while (!this.#connection.available) await this.#connection.whenFree();
      if (this.database.open) this.database.close();
    }
  }

  #assertOpen(): void {
    if (this.#closed || !this.database.open) throw new StoreClosedError('read-model store');
  }
}

/** One SQLite read-model transaction; every method answers with a promise, its SQL running on the connection at once. */
export class SqliteReadModelTransaction implements ReadModelTransaction<SqliteProjectionHandle> {
  #open = true;
  /** Whether a commit of this transaction can move what waiters wait for. */
  movedCheckpoint = false;
  readonly #buffer: DocumentBuffer;
  readonly #scope: TransactionScope;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly statements: Statements,
    private readonly clock: () => Date,
    /** Each document write goes to SQLite at its call (`batchWrites: false`), not at the end. */
    writeThrough = false,
  ) {
    this.#buffer = new DocumentBuffer(statements.documents, writeThrough);
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
      collection: <T extends object = JsonObject>(ref: CollectionRef<T>): DocumentCollection<T> => {
        const name = collectionName(ref);
        let collection = collections.get(name);
        if (!collection) {
          collection = sqliteCollection<object>(statements.documents, projection.namespace, name, isOpen, buffer);
          collections.set(name, collection);
        }
        return collection as DocumentCollection<T>;
      },
    };
  }

  async getState(namespace: string): Promise<ProjectionState | null> {
    this.#assertOpen();
    const row = this.statements.getState.get(namespace);
    return row === undefined ? null : decodeState(row, this.db.name);
  }

  async createState(projection: ProjectionNamespace): Promise<void> {
    this.#assertOpen();
    this.statements.createState.run(projection.namespace, projection.name, projection.version, this.#now());
    this.movedCheckpoint = true;
  }

  async getCheckpoint(namespace: string): Promise<Position | null> {
    return (await this.getState(namespace))?.checkpoint ?? null;
  }

  async setCheckpoint(namespace: string, position: Position): Promise<void> {
    this.#assertOpen();
    if (typeof position !== 'bigint' || position < 0n) throw new InvalidArgumentError('checkpoint', 'must be a non-negative bigint');
    this.#requireChange(this.statements.setCheckpoint.run(position, this.#now(), namespace).changes, namespace);
    this.movedCheckpoint = true;
  }

  async setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void> {
    this.#assertOpen();
    const json = failure === null ? null : JSON.stringify({ ...failure, position: failure.position.toString() });
    this.#requireChange(this.statements.setFailure.run(json, this.#now(), namespace).changes, namespace);
    // Waiters fail on a recorded failure: they must look.
    this.movedCheckpoint = true;
  }

  async addDeadLetter(deadLetter: ProjectionDeadLetter): Promise<void> {
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

  async getActiveVersion(name: string): Promise<number | null> {
    this.#assertOpen();
    const version = this.statements.getActive.get(name);
    return version === undefined ? null : Number(version);
  }

  async setActiveVersion(name: string, version: number): Promise<void> {
    this.#assertOpen();
    projectionNamespace(name, version);
    this.statements.setActive.run(name, version, this.#now());
    this.movedCheckpoint = true;
  }

  /**
   * Creates each declared index as an expression index on rm_documents (query-sql.ts), limited to
   * its collection in this namespace. An index whose definition changed is rebuilt.
   */
  async prepareCollections(projection: ProjectionNamespace, collections: readonly CollectionDefinition<object>[]): Promise<void> {
    this.#assertOpen();
    for (const collection of collections) {
      const name = collectionName(collection);
      for (const index of collection.indexes) {
        const sql = createIndexSql(projection.namespace, name, index.name, index.fields);
        const existing = this.statements.indexSql.get(indexName(projection.namespace, name, index.name));
        if (existing === sql) continue;
        if (existing !== undefined) this.db.exec(`DROP INDEX ${quoteIdentifier(indexName(projection.namespace, name, index.name))}`);
        this.db.exec(sql);
      }
    }
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#assertOpen();
    this.#buffer.discard(namespace);
    const prefix = `${namespace}/`;
    for (const index of this.statements.namespaceIndexes.all(prefix.length, prefix)) this.db.exec(`DROP INDEX ${quoteIdentifier(index)}`);
    this.statements.deleteDocuments.run(namespace);
    this.statements.deleteState.run(namespace);
    for (const table of this.statements.namespaceTables.all(prefix.length, prefix)) this.db.exec(`DROP TABLE ${quoteIdentifier(table)}`);
    this.movedCheckpoint = true;
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

const BUSY = Symbol('busy');

/**
 * A write SQLite refused by a constraint or trigger (the documents written at commit, say) is
 * refused again however long one waits: not retryable, so a runner applies the failed batch again
 * event by event and its failure policy meets the event that made the write.
 */
function permanentIfRefused(raw: unknown, typed: unknown): unknown {
  const code = (raw as { code?: unknown } | null)?.code;
  if (!(typed instanceof StoreUnavailableError) || !typed.retryable || typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return typed;
  return new StoreUnavailableError(typed.message, { cause: raw, retryable: false });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function readView(db: SqliteDatabase, statements: Statements, projection: ProjectionNamespace, isOpen: () => void): SqliteReadModelView {
  return {
    projection,
    db,
    table: (name) => tableName(projection, name),
    collection: <T extends object = JsonObject>(ref: CollectionRef<T>): DocumentReader<T> =>
      sqliteCollection<T>(statements.documents, projection.namespace, collectionName(ref), isOpen, null),
  };
}

function tableName(projection: ProjectionNamespace, name: string): string {
  if (typeof name !== 'string' || !TABLE_PATTERN.test(name)) {
    throw new InvalidArgumentError('table name', `must be 1 to 64 letters, digits or '_', got ${describeValue(name)}`);
  }
  return quoteIdentifier(`${projection.namespace}/${name}`);
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
