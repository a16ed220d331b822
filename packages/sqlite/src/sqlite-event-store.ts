/**
 * The event store on one SQLite file (better-sqlite3, WAL): the embedded default of Eventloom.
 * Semantics are MemoryEventStore's; appends that arrive together share a transaction (group commit).
 */
import {
  InvalidArgumentError,
  StoreClosedError,
  StreamDeletedError,
  type AppendOptions,
  type AppendResult,
  type CheckpointStore,
  type ConsumerGroupMember,
  type ConsumerGroupOptions,
  type SubscriptionDeadLetters,
  type DeleteStreamOptions,
  type Event,
  type EventField,
  type PartialEvent,
  type ReadFields,
  type SomeFieldsOf,
  type WholeEvents,
  type EventStore,
  type EventToAppend,
  type Position,
  type ReadAllOptions,
  type ReadCategoryOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SchemaRegistry,
  type SnapshotStore,
  type StreamInfo,
  type StreamMetadata,
  type SubscribeOptions,
  type Subscription,
} from '@eventloom/core';
import {
  AppendSignal,
  assertCategory,
  assertStreamId,
  checkExpectedVersion,
  describeValue,
  normalizeExpectedVersion,
  normalizeOptions,
  normalizeStreamMetadata,
  prepareAppend,
  prepareAppendSync,
  serializeStreamMetadata,
  softDeletedMetadata,
  startGroupMember,
  startSubscription,
  type GroupSubscriptionSource,
  type LeaseStore,
  type PreparedAppend,
} from '@eventloom/core/adapter';
import { appendInTransaction, type AppendContext, type InlineHandler } from './append.js';
import { isBusy, retryWhileBusy } from './busy.js';
import { sqliteCheckpointStore } from './checkpoint-store.js';
import { sqliteSubscriptionTables } from './subscription-tables.js';
import { decodeStreamMetadata } from './event-row.js';
import { GroupCommitter, type FlushSchedule, type GroupCommitStats } from './group-commit.js';
import { InlineReentry } from './inline-reentry.js';
import { assertSchemaNotNewer, migrate } from './migrate.js';
import { connectionLock, type ConnectionLock } from './connection-lock.js';
import { FileChanges } from './file-changes.js';
import { checkBusyTimeout, openDatabase, type Durability, type SqliteDatabase } from './open-database.js';
import { readLogEvents, readStreamEvents, type ReadContext } from './reads.js';
import { SqliteSnapshotStore } from './snapshot-store.js';
import { storeError, typedStoreError } from './sqlite-errors.js';
import { Statements, type StreamRow } from './statements.js';
import type { StoreWrites } from './store-writes.js';

export interface SqliteEventStoreOptions {
  /** Path of the SQLite file (created when missing), or `':memory:'` for tests. */
  readonly filename: string;
  /** Default `'full'`: an acknowledged append survives power loss. See `Durability`. */
  readonly durability?: Durability;
  /** Validates appended data and upcasts what is read. */
  readonly schemas?: SchemaRegistry;
  /** The `source` of recorded events. Default `eventloom`. */
  readonly source?: string;
  /** Where recorded times come from; tests pass a fake clock. */
  readonly clock?: () => Date;
  /** How often live subscriptions read the log when nothing woke them (other processes' appends wake them within ~5 ms). Default 250 ms. */
  readonly pollIntervalMs?: number;
  /**
   * How long a write waits for another process's write lock before failing with StoreBusyError
   * (nothing written). The wait never blocks the event loop. Default `BUSY_TIMEOUT_MS` (30 s).
   */
  readonly busyTimeoutMs?: number;
  /** @internal When queued appends are flushed; only for measuring group commit. Default `'immediate'`. */
  readonly flushSchedule?: FlushSchedule;
}

/**
 * Opens (creating and migrating when needed) an event store on a SQLite file.
 *
 * @example
 * const store = openSqliteEventStore({ filename: 'app.db' });
 * await store.appendToStream('order-1', [{ type: 'OrderCreated', data: { total: 10 } }], { expectedVersion: 'no_stream' });
 */
export function openSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(options);
}

export class SqliteEventStore implements EventStore {
  /** The better-sqlite3 handle, for read models kept in the same file (and the same transactions). */
  readonly database: SqliteDatabase;
  readonly snapshots: SnapshotStore;
  readonly checkpoints: CheckpointStore;
  readonly subscriptionDeadLetters: SubscriptionDeadLetters;
  readonly #leases: LeaseStore;

  readonly #statements: Statements;
  readonly #committer: GroupCommitter;
  readonly #signal = new AppendSignal();
  /** Wakes live readers when another process appends to the file (their own poll is the fallback). */
  readonly #fileChanges: FileChanges;
  readonly #inlineHandlers = new Set<InlineHandler>();
  readonly #reentry = new InlineReentry();
  readonly #subscriptions = new Set<Pick<Subscription, 'stop' | 'done'>>();
  readonly #schemas: SchemaRegistry | undefined;
  readonly #clock: () => Date;
  readonly #pollIntervalMs: number | undefined;
  readonly #busyTimeoutMs: number;
  /** Serializes this connection's transactions with the read-model stores sharing it. */
  readonly #connection: ConnectionLock;
  /** Reads for subscriptions: they go on while `close()` stops them. */
  readonly #read: ReadContext;
  /** Reads for callers: refused once `close()` has begun. */
  readonly #publicRead: ReadContext;
  #closing: Promise<void> | undefined;

  constructor(options: SqliteEventStoreOptions) {
    const { schemas, source = 'eventloom', clock, pollIntervalMs } = checkOptions(options);
    this.#schemas = schemas;
    this.#clock = clock ?? (() => new Date());
    this.#pollIntervalMs = pollIntervalMs;
    this.#busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
    let prepared: Statements | undefined;
    this.database = openDatabase(options.filename, {
      ...(options.durability !== undefined && { durability: options.durability }),
      busyTimeoutMs: this.#busyTimeoutMs,
      check: (db) => assertSchemaNotNewer(db),
      // Preparing reads the schema: still within the opening's bounded wait (another process may be recovering the file).
      setUp: (db) => {
        migrate(db);
        prepared = new Statements(db);
      },
    });
    const statements = prepared!;
    this.#statements = statements;
    this.#connection = connectionLock(this.database);
    this.#fileChanges = new FileChanges(this.database, this.#connection, () => this.#signal.notify());
    const assertOpen = (): void => this.#assertDatabaseOpen();
    const upcast = schemas ? (event: RecordedEvent) => schemas.upcast(event) : (event: RecordedEvent) => event;
    this.#read = {
      statements,
      clock: this.#clock,
      upcast: schemas ? (event: RecordedEvent) => schemas.upcast(event) : undefined,
      assertOpen,
      query: (doing, read) => this.#reading(doing, read),
      filename: this.database.name,
    };
    this.#publicRead = { ...this.#read, assertOpen: () => this.#assertOpen() };
    const appendContext: AppendContext = {
      db: this.database,
      statements,
      source,
      clock: this.#clock,
      inlineHandlers: this.#inlineHandlers,
      reentry: this.#reentry,
      present: upcast,
    };
    this.#committer = new GroupCommitter(
      this.database,
      statements,
      (append) => appendInTransaction(appendContext, append),
      () => this.#signal.notify(),
      this.#busyTimeoutMs,
      this.#connection,
      () => this.#inlineHandlers.size > 0,
      options.flushSchedule,
    );
    const writes: StoreWrites = {
      filename: this.database.name,
      busyTimeoutMs: this.#busyTimeoutMs,
      connection: this.#connection,
      refuseInsideHandler: (method) => this.#refuseInsideTransaction(method),
    };
    this.checkpoints = sqliteCheckpointStore(statements, assertOpen, this.#clock, writes);
    const subscriptionTables = sqliteSubscriptionTables(this.database, writes, assertOpen, this.#clock);
    this.#leases = subscriptionTables.leases;
    this.subscriptionDeadLetters = subscriptionTables.deadLetters;
    this.snapshots = new SqliteSnapshotStore(statements, () => this.#assertOpen(), writes);
  }

  /**
   * Runs `handler` inside each append's transaction, after its events are inserted, and awaits
   * it there; throwing (or rejecting) rolls that append back (and only that one). Returns an
   * unsubscribe function.
   */
  addInlineHandler(handler: InlineHandler): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.#inlineHandlers.add(handler);
    return () => {
      this.#inlineHandlers.delete(handler);
    };
  }

  /** How well group commit is grouping: commits made and appends they carried. */
  get groupCommitStats(): GroupCommitStats {
    return this.#committer.stats;
  }

  appendToStream<E extends Event>(streamId: string, events: readonly EventToAppend<E>[], options?: AppendOptions): Promise<AppendResult> {
    try {
      this.#assertOpen();
      this.#refuseInsideTransaction('appendToStream');
      // Without a registry nothing is asynchronous: queue in this turn, so concurrent callers group.
      if (!this.#schemas) return this.#committer.submit(prepareAppendSync(streamId, events, options, undefined));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#appendValidated(streamId, events, options);
  }

  async #appendValidated(streamId: string, events: readonly EventToAppend<Event>[], options?: AppendOptions): Promise<AppendResult> {
    const prepared: PreparedAppend = await prepareAppend(streamId, events, options, this.#schemas);
    this.#assertOpen();
    return this.#committer.submit(prepared);
  }

  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readStream<E extends Event = Event, F extends EventField = never>(
    streamId: string,
    options: ReadStreamOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    return readStreamEvents(this.#publicRead, streamId, options);
  }

  readAll<E extends Event = Event>(options?: ReadAllOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readAll<E extends Event = Event, F extends EventField = never>(options: ReadAllOptions & ReadFields<F>): AsyncIterable<PartialEvent<E, F>>;
  readAll<E extends Event = Event>(options?: ReadAllOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    return readLogEvents(this.#publicRead, options);
  }

  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readCategory<E extends Event = Event, F extends EventField = never>(
    category: string,
    options: ReadCategoryOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readCategory(category: string, options: ReadCategoryOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    assertCategory(category);
    const { eventTypes, ...rest }: ReadCategoryOptions = normalizeOptions(options);
    return this.readAll({ ...rest, filter: { streamPrefixes: [`${category}-`], ...(eventTypes && { eventTypes }) } });
  }

  async headPosition(): Promise<Position> {
    this.#assertOpen();
    return this.#readHead();
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    this.#assertOpen();
    assertStreamId(streamId);
    const row = await this.#reading(`reading the state of ${streamId}`, () => this.#statements.getStream.get(streamId));
    if (row === undefined) {
      return { streamId, version: 0n, exists: false, softDeleted: false, tombstoned: false, metadata: {} };
    }
    const [version, metadata, softDeleted, tombstoned] = row;
    return {
      streamId,
      version: BigInt(version),
      exists: version > 0 && softDeleted === 0 && tombstoned === 0,
      softDeleted: softDeleted !== 0,
      tombstoned: tombstoned !== 0,
      metadata: this.#metadataOf(streamId, metadata),
    };
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.#assertOpen();
    this.#refuseInsideTransaction('setStreamMetadata');
    assertStreamId(streamId);
    const json = serializeStreamMetadata(normalizeStreamMetadata(metadata));
    await this.#write(`setting the metadata of ${streamId}`, (s) => {
      if (s.getStream.get(streamId)?.[3]) throw new StreamDeletedError(streamId);
      s.upsertStreamMetadata.run(streamId, json);
    });
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<void> {
    this.#assertOpen();
    this.#refuseInsideTransaction('deleteStream');
    assertStreamId(streamId);
    const expected = normalizeExpectedVersion(options.expectedVersion);
    await this.#write(`deleting ${streamId}`, (s) => {
      const row = s.getStream.get(streamId);
      if (row?.[3]) throw new StreamDeletedError(streamId);
      const version = BigInt(row?.[0] ?? 0);
      checkExpectedVersion(streamId, expected, { version, visible: isVisible(row) });
      if (options.hard) {
        s.tombstoneStream.run(streamId);
      } else {
        const metadata = row ? this.#metadataOf(streamId, row[1]) : {};
        s.softDeleteStream.run(streamId, serializeStreamMetadata(softDeletedMetadata(metadata, version)));
      }
    });
  }

  subscribe<E extends Event = Event>(options: SubscribeOptions<E>): Subscription {
    this.#assertOpen();
    const pollIntervalMs = options?.pollIntervalMs ?? this.#pollIntervalMs;
    const subscription = startSubscription<E>(this.#subscriptionSource(), { ...options, ...(pollIntervalMs !== undefined && { pollIntervalMs }) });
    this.#track(subscription);
    return subscription;
  }

  /** Consumer groups in the file: several processes on it share the partitions, leased in the file. */
  subscribeGroup<E extends Event = Event>(options: ConsumerGroupOptions<E>): ConsumerGroupMember {
    this.#assertOpen();
    const pollIntervalMs = options?.pollIntervalMs ?? this.#pollIntervalMs;
    const member = startGroupMember<E>(this.#subscriptionSource(), { ...options, ...(pollIntervalMs !== undefined && { pollIntervalMs }) });
    this.#track(member);
    return member;
  }

  #subscriptionSource(): GroupSubscriptionSource {
    return {
      readAll: (o) => readLogEvents(this.#read, o) as AsyncIterable<RecordedEvent<never>>, // whole events: no `fields`
      headPosition: async () => {
        this.#assertDatabaseOpen();
        return this.#readHead();
      },
      checkpoints: this.checkpoints,
      waitForAppend: (ms, signal) => this.#fileChanges.watch(() => this.#signal.wait(ms, signal)),
      leases: this.#leases,
      deadLetters: this.subscriptionDeadLetters,
    };
  }

  #track(subscription: Pick<Subscription, 'stop' | 'done'>): void {
    this.#subscriptions.add(subscription);
    const forget = (): void => {
      this.#subscriptions.delete(subscription);
    };
    subscription.done.then(forget, forget);
  }

  /**
   * Commits appends already accepted, stops subscriptions, then closes the file. Later calls
   * fail with `StoreClosedError`.
   */
  close(): Promise<void> {
    try {
      this.#refuseInsideTransaction('close');
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#committer.drain();
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
    await this.#committer.drain();
    // A read-model transaction sharing the connection may still be awaiting its handler.
    while (!this.#connection.available) await this.#connection.whenFree();
    try {
      this.database.pragma('optimize');
    } catch {
      // Only advice to the query planner; closing must go on.
    }
    this.database.close();
    this.#signal.notify();
  }

  /**
   * Runs `work` in its own write transaction; a failure leaves nothing written. Waits (without
   * blocking) for another process's write lock, up to the busy timeout.
   */
  #write(doing: string, work: (statements: Statements) => void): Promise<void> {
    const s = this.#statements;
    return retryWhileBusy(doing, this.#busyTimeoutMs, () => {
      // Began here, so rolled back here: never someone else's transaction.
      let began = false;
      try {
        s.begin.run();
        began = true;
        work(s);
        s.commit.run();
      } catch (error) {
        if (began && this.database.inTransaction) s.rollback.run();
        if (!began && isBusy(error)) throw error;
        throw storeError(error, doing, 'nothing', this.database.name);
      }
    }, this.#connection);
  }

  /** A read: typed errors only; in WAL mode it waits only in rare moments (another process recovering the file). */
  #reading<T>(doing: string, read: () => T): Promise<T> {
    return retryWhileBusy(doing, this.#busyTimeoutMs, read, this.#connection).catch((error: unknown) => {
      throw typedStoreError(error, doing, this.database.name);
    });
  }

  #metadataOf(streamId: string, json: string): StreamMetadata {
    return decodeStreamMetadata(json, this.database.name, streamId);
  }

  async #readHead(): Promise<Position> {
    return BigInt(await this.#reading('reading the head position', () => this.#statements.headPosition.get()!));
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreClosedError();
  }

  /**
   * The store's writes are refused from an inline handler (inline-reentry.ts) and from inside a
   * read-model transaction on this connection: the write would wait for the very transaction
   * that awaits it.
   */
  #refuseInsideTransaction(method: string): void {
    this.#reentry.refuse(method);
    if (this.#connection.insideHolder) {
      throw new InvalidArgumentError(
        'read-model transaction',
        `called ${method} on the event store sharing its connection; the write would wait for the transaction that awaits it. ` +
          'Do it after the transaction (or from a subscription)',
      );
    }
  }

  #assertDatabaseOpen(): void {
    if (!this.database.open) throw new StoreClosedError();
  }
}

function isVisible(row: StreamRow | undefined): boolean {
  return row !== undefined && row[0] > 0 && row[2] === 0;
}

function checkOptions(options: SqliteEventStoreOptions): SqliteEventStoreOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', "must be an object such as { filename: 'events.db' }");
  }
  const { source, clock, pollIntervalMs } = options;
  if (source !== undefined && (typeof source !== 'string' || source.length === 0 || source.length > 255)) {
    throw new InvalidArgumentError('source', 'must be a non-empty string of at most 255 characters');
  }
  if (clock !== undefined && typeof clock !== 'function') throw new InvalidArgumentError('clock', 'must be a function returning a Date');
  if (pollIntervalMs !== undefined && (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0)) {
    throw new InvalidArgumentError('pollIntervalMs', `must be a positive number, got ${describeValue(pollIntervalMs)}`);
  }
  return options;
}
