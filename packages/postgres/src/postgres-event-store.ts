/**
 * The event store on PostgreSQL, for many processes and machines: the `EventStore` contract with
 * the semantics of core's `MemoryEventStore`, a global log that never skips a late commit, live
 * subscriptions woken by LISTEN/NOTIFY, consumer groups, and tenants kept apart by row-level security.
 */
import {
  InvalidArgumentError,
  StoreClosedError,
  StoreUnavailableError,
  type AppendOptions,
  type AppendResult,
  type CheckpointStore,
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
  assertCategory,
  assertStreamId,
  normalizeExpectedVersion,
  normalizeOptions,
  normalizeStreamMetadata,
  prepareAppend,
  serializeStreamMetadata,
  startSubscription,
  deserializeStreamMetadata,
  type LeaseStore,
} from '@eventloom/core/adapter';
import type pg from 'pg';
import { assertAppendable } from './append.js';
import { postgresCheckpoints } from './checkpoints.js';
import { postgresSubscriptionTables } from './subscription-tables.js';
import {
  resizeConsumerGroup,
  startConsumerGroupMember,
  type ConsumerGroupMember,
  type ConsumerGroupOptions,
  type ResizeConsumerGroupOptions,
  type ResizeConsumerGroupResult,
} from './consumer-group.js';
import { StoreDatabase, run } from './database.js';
import { toStoreError } from './errors.js';
import { GroupAppender } from './group-append.js';
import { migrate } from './migrate.js';
import { namesFor, type StoreNames } from './names.js';
import {
  DEFAULT_SCHEMA,
  normalizePoolSize,
  normalizeSource,
  normalizeTenantId,
  type PostgresEventStoreOptions,
} from './options.js';
import { readLogEvents, type LogQuery } from './read-log.js';
import { readStreamEvents } from './read-stream.js';
import { connectAs, connectLike, connectPlain, createPool, SessionInitializer, sessionSettings } from './session.js';
import { PostgresSnapshotStore } from './snapshots.js';
import { EXPECTED_KIND } from './sql/functions.js';
import { queriesFor } from './sql/queries.js';
import { assertStorableStreamId, findUnstorable } from './storable-text.js';
import { AppendWaker } from './waker.js';
import { liveReader } from './wake-policy.js';

/**
 * Runs inside an append's transaction after its events are inserted; throwing rolls the append
 * back. A handler that could not do its work for these events (an inline projection whose
 * checkpoint is behind, say) answers why, and the append's result says so in `inlineSkipped`.
 */
export type InlineHandler = (events: readonly RecordedEvent[], client: pg.PoolClient) => Promise<void | InlineSkipped>;

/** An inline handler's answer when it left an append's events undone: who, and why. */
export interface InlineSkipped {
  /** e.g. the projection's namespace, `order-totals@1`. */
  readonly handler: string;
  readonly reason: string;
}

/** `appendToStream`'s result on PostgreSQL. */
export interface PostgresAppendResult extends AppendResult {
  /**
   * Present only when an inline handler left this append's events undone (its read model is now
   * behind the events until a runner catches up): never silently stale.
   */
  readonly inlineSkipped?: readonly InlineSkipped[];
}

/**
 * Positions are bigints below 2^63. Appends count up by one per event, so only a log whose old
 * positions came from transaction ids (before migration 3) can come near the end; the store
 * refuses to open with less than this much room left.
 */
export const MIN_POSITION_HEADROOM = 2n ** 40n;
const MAX_POSITION = 2n ** 63n - 1n;

/**
 * Opens the store: runs pending migrations (creating the schema and the store's role if needed),
 * then connects the pool as that role, for `tenantId`.
 *
 * @example
 * const store = await openPostgresEventStore({ connectionString: process.env.DATABASE_URL, schema: 'orders' });
 * await store.appendToStream('order-1', [{ type: 'OrderCreated', data: { total: 10 } }], { expectedVersion: 'no_stream' });
 */
export async function openPostgresEventStore(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
  const names = namesFor(options.schema ?? DEFAULT_SCHEMA);
  const tenantId = normalizeTenantId(options.tenantId);
  const source = normalizeSource(options.source);
  const poolSize = normalizePoolSize(options.poolSize);
  const { connectionString, pool: ownPool } = options;
  if ((connectionString === undefined) === (ownPool === undefined)) {
    throw new InvalidArgumentError('options', 'give either connectionString or pool (not both)');
  }
  if (connectionString !== undefined && typeof connectionString !== 'string') {
    throw new InvalidArgumentError('connectionString', 'must be a string such as postgres://user@host:5432/db');
  }
  const settings = sessionSettings(names, tenantId);
  const context = { operation: `opening the event store in schema ${names.schema}` };
  let pool: pg.Pool;
  let initializer: SessionInitializer | undefined;
  let connect: () => Promise<pg.Client>;
  try {
    if (connectionString !== undefined) {
      const client = await connectPlain(connectionString);
      try {
        await migrate(client, names);
      } finally {
        await client.end().catch(() => undefined);
      }
      pool = createPool(connectionString, poolSize, settings);
      connect = () => connectAs(connectionString, settings);
    } else {
      pool = ownPool!;
      initializer = new SessionInitializer(settings);
      const client = await pool.connect();
      try {
        // The pool's user owns the schema; RESET ROLE in case its connections start as another role.
        await client.query('RESET ROLE');
        await migrate(client, names);
        await initializer.prepare(client);
      } finally {
        client.release();
      }
      const prepare = initializer;
      pool.on('connect', (client) => void prepare.prepare(client).catch(() => undefined));
      connect = () => connectLike(pool, prepare);
    }
  } catch (error) {
    throw toStoreError(error, context);
  }
  const db = new StoreDatabase(pool, queriesFor(names), initializer);
  let channel: string;
  try {
    const [row] = await db.rows(db.queries.openTenant, [], context);
    const [tenantChannel, head] = row as [string, bigint];
    channel = tenantChannel;
    assertHeadroom(head, names, tenantId);
  } catch (error) {
    if (connectionString !== undefined) await pool.end().catch(() => undefined);
    throw error;
  }
  return new PostgresEventStore({
    db,
    names,
    tenantId,
    source,
    ownsPool: connectionString !== undefined,
    waker: new AppendWaker(connect, channel),
    ...(options.schemas && { schemas: options.schemas }),
    clock: options.clock ?? (() => new Date()),
  });
}

function assertHeadroom(head: bigint, names: StoreNames, tenantId: string): void {
  const left = MAX_POSITION - head;
  if (left >= MIN_POSITION_HEADROOM) return;
  throw new StoreUnavailableError(
    `The log of tenant ${tenantId} in schema ${names.schema} is at position ${head}, ${left} below the largest a position can be (2^63 - 1); ` +
      'appends would soon fail. Copy its events into a new schema, where positions start again at 1, and move the subscriptions\' ' +
      'checkpoints over (see "Backup, restore and position headroom" in docs/postgres-event-store.md)',
  );
}

interface StoreParts {
  readonly db: StoreDatabase;
  readonly names: StoreNames;
  readonly tenantId: string;
  readonly source: string;
  readonly ownsPool: boolean;
  readonly waker: AppendWaker;
  readonly schemas?: SchemaRegistry;
  readonly clock: () => Date;
}

export class PostgresEventStore implements EventStore {
  /** The store's pool: its connections run as the store's role, for its tenant. */
  readonly pool: pg.Pool;
  readonly snapshots: SnapshotStore;
  readonly checkpoints: CheckpointStore;
  readonly subscriptionDeadLetters: SubscriptionDeadLetters;
  readonly #leases: LeaseStore;
  /** The schema holding the store's tables. */
  readonly schema: string;
  readonly tenantId: string;
  readonly #db: StoreDatabase;
  readonly #names: StoreNames;
  readonly #waker: AppendWaker;
  readonly #schemas: SchemaRegistry | undefined;
  readonly #source: string;
  readonly #clock: () => Date;
  readonly #ownsPool: boolean;
  readonly #inlineHandlers = new Set<InlineHandler>();
  /** Appends share transactions, and so commit flushes (`group-append.ts`). */
  readonly #appends: GroupAppender;
  readonly #running = new Set<{ stop(): Promise<void> }>();
  /** Absent without a schema registry: reads then skip the call. */
  readonly #upcast: ((event: RecordedEvent) => RecordedEvent) | undefined;
  #closed = false;

  /** Use `openPostgresEventStore`, which migrates the schema first. */
  constructor(parts: StoreParts) {
    this.#db = parts.db;
    this.#appends = new GroupAppender(parts.db);
    this.#names = parts.names;
    this.pool = parts.db.pool;
    this.schema = parts.names.schema;
    this.tenantId = parts.tenantId;
    this.#waker = parts.waker;
    this.#schemas = parts.schemas;
    this.#source = parts.source;
    this.#clock = parts.clock;
    this.#ownsPool = parts.ownsPool;
    const schemas = parts.schemas;
    this.#upcast = schemas ? (event) => schemas.upcast(event) : undefined;
    const assertOpen = (): void => this.#assertOpen();
    this.checkpoints = postgresCheckpoints(this.#db, assertOpen);
    const subscriptionTables = postgresSubscriptionTables(this.#db, this.#names, assertOpen);
    this.#leases = subscriptionTables.leases;
    this.subscriptionDeadLetters = subscriptionTables.deadLetters;
    this.snapshots = new PostgresSnapshotStore(this.#db, assertOpen);
  }

  /**
   * Registers a handler that runs inside each append's transaction, on its connection, after the
   * events are inserted (read models that must never lag the events). Throwing rolls the append
   * back. Returns a function that unregisters it.
   */
  addInlineHandler(handler: InlineHandler): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.#inlineHandlers.add(handler);
    return () => {
      this.#inlineHandlers.delete(handler);
    };
  }

  async appendToStream<E extends Event>(
    streamId: string,
    events: readonly EventToAppend<E>[],
    options?: AppendOptions,
  ): Promise<PostgresAppendResult> {
    this.#assertOpen();
    assertStorableStreamId(streamId);
    const prepared = await prepareAppend(streamId, events as readonly EventToAppend[], options, this.#schemas);
    const json = assertAppendable(prepared);
    this.#assertOpen();
    const context = {
      queries: this.#db.queries,
      time: this.#clock().toISOString(),
      source: this.#source,
      idsGiven: events.some((event) => event.id !== undefined),
    };
    const errorContext = { operation: `an append to ${streamId}`, streamId, expected: prepared.expected, writes: true };
    const handlers = [...this.#inlineHandlers];
    // With inline handlers too: they run once per group (`group-append.ts`).
    const result = await this.#appends.append(prepared, json, context, errorContext, handlers);
    if (!result.idempotent) this.#waker.appended();
    return result;
  }

  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readStream<E extends Event = Event, F extends EventField = never>(
    streamId: string,
    options: ReadStreamOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    this.#assertOpen();
    return readStreamEvents({ db: this.#db, now: this.#clock, upcast: this.#upcast }, streamId, options);
  }

  readAll<E extends Event = Event>(options?: ReadAllOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readAll<E extends Event = Event, F extends EventField = never>(options: ReadAllOptions & ReadFields<F>): AsyncIterable<PartialEvent<E, F>>;
  readAll<E extends Event = Event>(options?: ReadAllOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    this.#assertOpen();
    return this.#readLog(options);
  }

  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readCategory<E extends Event = Event, F extends EventField = never>(
    category: string,
    options: ReadCategoryOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  readCategory(category: string, options: ReadCategoryOptions = {}): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    this.#assertOpen();
    assertCategory(category);
    const { eventTypes, ...rest }: ReadCategoryOptions = normalizeOptions(options);
    return this.#readLog({ ...rest, category, ...(eventTypes && { filter: { eventTypes } }) });
  }

  #readLog(query: LogQuery): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    return readLogEvents({ db: this.#db, upcast: this.#upcast }, query);
  }

  async headPosition(): Promise<Position> {
    this.#assertOpen();
    const [row] = await this.#db.rows(this.#db.queries.headPosition, [], { operation: 'headPosition' });
    return row![0] as bigint;
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    this.#assertOpen();
    assertStreamId(streamId);
    const [row] = await this.#db.rows(this.#db.queries.streamInfo, [streamId], { operation: `streamInfo of ${streamId}`, streamId });
    if (!row) return { streamId, version: 0n, exists: false, softDeleted: false, tombstoned: false, metadata: {} };
    const [version, softDeleted, tombstoned, metadata] = row as [bigint, boolean, boolean, string];
    return {
      streamId,
      version,
      exists: version > 0n && !softDeleted && !tombstoned,
      softDeleted,
      tombstoned,
      metadata: deserializeStreamMetadata(metadata),
    };
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.#assertOpen();
    assertStorableStreamId(streamId);
    const normalized = normalizeStreamMetadata(metadata);
    if (normalized.custom !== undefined) {
      try {
        findUnstorable(normalized.custom, 'metadata.custom');
      } catch (error) {
        throw new InvalidArgumentError('metadata.custom', (error as Error).message);
      }
    }
    await this.#db.rows(this.#db.queries.setStreamMetadata, [streamId, serializeStreamMetadata(normalized)], {
      operation: `setting the metadata of ${streamId}`,
      streamId,
      writes: true,
    });
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<void> {
    this.#assertOpen();
    assertStorableStreamId(streamId);
    const expected = normalizeExpectedVersion(options.expectedVersion);
    const [kind, version] =
      expected === 'any'
        ? [EXPECTED_KIND.any, null]
        : expected === 'no_stream'
          ? [EXPECTED_KIND.noStream, null]
          : expected === 'stream_exists'
            ? [EXPECTED_KIND.streamExists, null]
            : [EXPECTED_KIND.exact, expected.toString()];
    await this.#db.withClient(
      { operation: `deleting ${streamId}`, streamId, expected, writes: true },
      (client) => run(client, this.#db.queries.deleteStream, [streamId, kind, version, options.hard === true]),
    );
  }

  subscribe<E extends Event = Event>(options: SubscribeOptions<E>): Subscription {
    this.#assertOpen();
    this.#waker.listen();
    const live = liveReader(this.#waker, () => this.headPosition());
    const subscription = startSubscription(
      {
        readAll: (o) => this.readAll(o),
        headPosition: live.headPosition,
        checkpoints: this.checkpoints,
        waitForAppend: live.waitForAppend,
        leases: this.#leases,
        deadLetters: this.subscriptionDeadLetters,
      },
      options,
    );
    this.#track(subscription);
    return subscription;
  }

  /**
   * Joins a consumer group: the group's members share the work of one subscription. Streams are
   * split into `partitions` by a hash of their id; each member handles the partitions it holds
   * under a lease, in log order, with a checkpoint per partition. When a member dies its
   * partitions are taken over once their lease runs out; events handled since the partition's
   * last checkpoint (at most one batch) are handled again by the next holder.
   */
  subscribeGroup<E extends Event = Event>(options: ConsumerGroupOptions<E>): ConsumerGroupMember {
    this.#assertOpen();
    this.#waker.listen();
    const member = startConsumerGroupMember(
      {
        db: this.#db,
        names: this.#names,
        // Group members hand whole events to their handlers: their queries carry no `fields`.
        readPartition: (query) => this.#readLog(query) as AsyncIterable<RecordedEvent>,
        liveReader: () => liveReader(this.#waker, () => this.headPosition()),
        deadLetters: this.subscriptionDeadLetters,
      },
      options,
    );
    this.#track(member);
    return member;
  }

  /**
   * Changes the partition count of a consumer group (see `resizeConsumerGroup`): leases end, new
   * partitions resume at the lowest old checkpoint (events may be handled again, none skipped),
   * and members with the old count stop with GroupConfigMismatchError; start them with the new one.
   */
  resizeConsumerGroup(options: ResizeConsumerGroupOptions): Promise<ResizeConsumerGroupResult> {
    this.#assertOpen();
    return resizeConsumerGroup({ db: this.#db, names: this.#names }, options);
  }

  #track(running: { stop(): Promise<void>; readonly done: Promise<void> }): void {
    this.#running.add(running);
    const forget = (): void => {
      this.#running.delete(running);
    };
    running.done.then(forget, forget);
  }

  /** Stops this store's subscriptions and group members, then closes its connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#running].map((running) => running.stop().catch(() => undefined)));
    this.#closed = true;
    this.#db.closed = true;
    await this.#waker.close();
    if (this.#ownsPool) await this.pool.end().catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
