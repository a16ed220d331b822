/**
 * The PostgreSQL durable queue: a `TransportDriver` (storage and delivery) for core's consumer
 * engine, in the event store's schema and tenant-scoped by its row-level security. Sends share
 * commits (`sender.ts`), claims take batches with `FOR UPDATE SKIP LOCKED` under a lease
 * (`receiver.ts`), LISTEN/NOTIFY wakes receivers (`../waker.ts`, the event store's waker with the
 * queue's timing), dead letters are rows (`dead-letter-queue.ts`). The tables are migration 6 (`sql.ts`).
 */
import {
  InvalidArgumentError,
  TransportClosedError,
  type ConsumeSource,
  type Destination,
  type TransportCapabilities,
} from '@eventloom/core';
import { checkPollIntervalMs, describeValue, requireOneOf, type PreparedMessage, type Receiver, type ReceiverOptions, type TransportDriver } from '@eventloom/core/adapter';
import type pg from 'pg';
import { StoreDatabase } from '../database.js';
import { toStoreError } from '../errors.js';
import { migrate } from '../migrate.js';
import { namesFor, type StoreNames } from '../names.js';
import { DEFAULT_SCHEMA, normalizePoolSize, normalizeTenantId } from '../options.js';
import type { PostgresEventStore } from '../postgres-event-store.js';
import { connectAs, connectLike, connectPlain, createPool, SessionInitializer, sessionSettings } from '../session.js';
import { queriesFor } from '../sql/queries.js';
import { PostgresDeadLetterQueue } from './dead-letter-queue.js';
import { assertDestination, groupKey, queueKey, sourceKey } from './destinations.js';
import { query, QueueDatabase } from './queue-database.js';
import { Waker, type WakerTiming } from '../waker.js';
import { ackCoalescer, DEFAULT_POLL_INTERVAL_MS, PostgresReceiver, type Token } from './receiver.js';
import type { Coalescer } from './coalescer.js';
import { QueueSender } from './sender.js';
import { queueStatements, type QueueStatements } from './statements.js';

export interface PostgresTransportOptions {
  /** Where to connect; the schema is migrated (as the event store does). Give this or `store`. */
  readonly connectionString?: string;
  /** Share an open event store's schema, tenant and pool. Its `close()` stays the store's. */
  readonly store?: PostgresEventStore;
  /** With `connectionString`: the schema (default `eventloom`), tenant (default `default`) and pool size (default 10). */
  readonly schema?: string;
  readonly tenantId?: string;
  readonly poolSize?: number;
  /** How often an idle receiver looks without a wake-up. Default 1 s. */
  readonly pollIntervalMs?: number;
}

const CAPABILITIES: TransportCapabilities = { cancelScheduled: true };
/** The queue's own timing, as its publish-to-handler latency was measured with: a send is announced within 5 ms, not the appends' 10. */
const QUEUE_TIMING: WakerTiming = { notifyIntervalMs: 5, reconnectDelayMs: 500 };

/** Opens the queue's storage: the driver core's `createTransport` runs consumers on. */
export async function openPostgresTransportDriver(options: PostgresTransportOptions): Promise<PostgresTransportDriver> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `must be an object such as { connectionString, schema } or { store }, got ${describeValue(options)}`);
  }
  requireOneOf(options, 'connectionString', 'store', 'connect with a URL ({ connectionString }) or share an open event store ({ store })');
  const { connectionString, store } = options;
  const pollIntervalMs = checkPollIntervalMs(options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS);
  if (store !== undefined) {
    if (options.schema !== undefined || options.tenantId !== undefined || options.poolSize !== undefined) {
      throw new InvalidArgumentError('options', 'with store, the schema, tenant and pool are the store\'s; leave schema, tenantId and poolSize out');
    }
    const names = namesFor(store.schema);
    const initializer = new SessionInitializer(sessionSettings(names, store.tenantId));
    const db = new StoreDatabase(store.pool, queriesFor(names), initializer);
    return open(names, db, () => connectLike(store.pool, initializer), false, pollIntervalMs);
  }
  if (typeof connectionString !== 'string') throw new InvalidArgumentError('connectionString', 'must be a string such as postgres://user@host:5432/db');
  const names = namesFor(options.schema ?? DEFAULT_SCHEMA);
  const settings = sessionSettings(names, normalizeTenantId(options.tenantId));
  const poolSize = normalizePoolSize(options.poolSize);
  try {
    const client = await connectPlain(connectionString);
    try {
      await migrate(client, names);
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    throw toStoreError(error, { operation: `opening the transport in schema ${names.schema}` });
  }
  const pool = createPool(connectionString, poolSize, settings);
  const db = new StoreDatabase(pool, queriesFor(names), undefined);
  return open(names, db, () => connectAs(connectionString, settings), true, pollIntervalMs);
}

async function open(
  names: StoreNames,
  store: StoreDatabase,
  connect: () => Promise<pg.Client>,
  ownsPool: boolean,
  pollIntervalMs: number,
): Promise<PostgresTransportDriver> {
  const db = new QueueDatabase(store);
  let channel: string;
  try {
    const [[tenantChannel]] = (await db.withClient('opening the transport', (client) =>
      query(client, `SELECT ${names.qschema}.tenant_channel()`, []),
    )) as [[string]];
    channel = `${tenantChannel}_q`;
  } catch (error) {
    if (ownsPool) await store.pool.end().catch(() => undefined);
    throw error;
  }
  return new PostgresTransportDriver(db, queueStatements(names), new Waker(connect, channel, QUEUE_TIMING), ownsPool, pollIntervalMs);
}

export class PostgresTransportDriver implements TransportDriver {
  readonly kind = 'postgres';
  readonly capabilities = CAPABILITIES;
  readonly deadLetters: PostgresDeadLetterQueue;
  readonly #db: QueueDatabase;
  readonly #statements: QueueStatements;
  readonly #waker: Waker;
  readonly #sender: QueueSender;
  readonly #ownsPool: boolean;
  readonly #pollIntervalMs: number;
  readonly #receivers = new Set<Receiver>();
  readonly #acks: Coalescer<Token>;
  #closed = false;

  /** Use `openPostgresTransportDriver`. */
  constructor(db: QueueDatabase, statements: QueueStatements, waker: Waker, ownsPool: boolean, pollIntervalMs: number) {
    this.#db = db;
    this.#statements = statements;
    this.#waker = waker;
    this.#ownsPool = ownsPool;
    this.#pollIntervalMs = pollIntervalMs;
    this.#sender = new QueueSender(db, statements.enqueue, () => waker.committed());
    this.#acks = ackCoalescer(db, statements, waker);
    this.deadLetters = new PostgresDeadLetterQueue(db, statements, () => waker.committed());
  }

  /** The connections this transport uses (the store's, when opened from one). */
  get pool(): pg.Pool {
    return this.#db.db.pool;
  }

  enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    this.#assertOpen();
    assertDestination(destination);
    return this.#sender.enqueue(destination, messages);
  }

  async declare(sources: readonly ConsumeSource[]): Promise<void> {
    this.#assertOpen();
    const groups = sources.filter((s): s is Extract<ConsumeSource, { topic: string }> => 'topic' in s);
    for (const source of sources) sourceKey(source);
    if (groups.length === 0) return;
    await this.#db.rows('declaring topic groups', this.#statements.declareGroup, [
      groups.map((g) => g.topic),
      groups.map((g) => g.group),
      groups.map((g) => groupKey(g.topic, g.group)),
    ]);
  }

  async openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver> {
    this.#assertOpen();
    const destination = sourceKey(source);
    await this.declare([source]);
    const receiver = new PostgresReceiver(
      { db: this.#db, statements: this.#statements, waker: this.#waker, pollIntervalMs: this.#pollIntervalMs, acks: this.#acks },
      source,
      destination,
      options,
    );
    this.#receivers.add(receiver);
    return receiver;
  }

  async cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    this.#assertOpen();
    if (typeof messageId !== 'string') throw new InvalidArgumentError('messageId', 'must be a message id');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(messageId)) return false;
    let keys: string[];
    if ('queue' in destination) keys = [queueKey(destination.queue)];
    else if ('group' in destination) keys = [sourceKey(destination)];
    else {
      assertDestination({ kind: 'topic', name: destination.topic });
      const rows = await this.#db.rows(`cancelling ${messageId}`, this.#statements.groupsOf, [destination.topic]);
      keys = rows.map((r) => r[0] as string);
    }
    const rows = await this.#db.rows(`cancelling ${messageId}`, this.#statements.cancel, [keys, messageId.toLowerCase()]);
    // queue_remove returns the removed rows' seqs; over no rows the aggregate call still gives one NULL row.
    return rows.some((r) => r[0] !== null);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#receivers].map((r) => r.close()));
    this.#db.closed = true;
    await this.#waker.close();
    if (this.#ownsPool) await this.#db.db.pool.end().catch(() => undefined);
  }

  /**
   * Stops at once as a killed process would: receivers stop, nothing claimed is released or
   * answered (it comes back when its lease runs out), and every connection is cut without a
   * goodbye. For crash tests.
   * @internal
   */
  async abandon(): Promise<void> {
    this.#closed = true;
    this.#db.closed = true;
    await Promise.all([...this.#receivers].map((r) => r.close()));
    const clients = (this.#db.db.pool as unknown as { _clients?: { connection?: { stream?: { destroy(): void } } }[] })._clients ?? [];
    for (const client of clients) client.connection?.stream?.destroy();
    this.#waker.abandon();
    // Not awaited: ending a pool whose sockets were cut can wait for goodbyes that never come.
    if (this.#ownsPool) void this.#db.db.pool.end().catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportClosedError('postgres');
  }
}
