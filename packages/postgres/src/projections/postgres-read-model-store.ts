/**
 * The PostgreSQL read-model store: read models as jsonb documents (and the projection's own
 * tables) in one schema, written in transactions that also carry the projection's checkpoint.
 * Handlers get the transaction's client for plain SQL beside the document API, which answers
 * with promises: handlers on this store are `async`.
 */
import {
  EventloomError,
  InvalidArgumentError,
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
  assertLeaseArguments,
  collectionName,
  projectionNamespace,
  resolveReadTarget,
  waitForCheckpoint,
  type ProjectionNamespace,
  type ReadTarget,
} from '@eventloom/core/adapter';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { isConnectionError, isRetryable, toStoreError } from '../errors.js';
import { assertStorableBigint } from '../limits.js';
import { namesFor, quoteIdent } from '../names.js';
import { normalizeTenantId } from '../options.js';
import { AppendWaker } from '../waker.js';
import { HeldBackWriteFailure, postgresCollection, WriteBehind, type DocumentTarget } from './documents.js';
import { sqlLiteral } from './query-sql.js';
import { migrateReadModels } from './schema.js';
import { scopedPoolConfig } from './scoped-pool.js';
import { readModelQueries, type ReadModelQueries } from './sql.js';

/** What PostgreSQL projection handlers get: documents, plus the transaction's client for plain SQL. */
export interface PostgresProjectionHandle extends ProjectionHandle {
  /**
   * The client whose transaction the handler runs in; its statements commit with the checkpoint.
   * Do not begin, commit or roll back. In a runner's batch, documents written through `collection`
   * reach `rm_documents` before a query of their collection and at the end of the batch (they are
   * held back and sent together), so read documents through `collection`, not SQL.
   */
  readonly client: pg.ClientBase;
  /**
   * The quoted, schema-qualified name of this projection version's own table `name`, e.g.
   * `"app"."order-summary@2/orders"`. A new version gets new tables; a rebuild drops them.
   */
  table(name: string): string;
}

/** What readers of a PostgreSQL read model get. */
export interface PostgresReadModelView extends ReadModelView {
  /**
   * The store's own pool, for plain SQL reads of the projection's tables: its connections run as
   * the schema's ordinary role, for the store's tenant (row-level security applies).
   */
  readonly pool: pg.Pool;
  table(name: string): string;
}

export interface PostgresReadModelStoreOptions {
  /**
   * The connections to use. Their user must be allowed to create the schema and its tables
   * (the first open migrates them); the store does not end the pool.
   */
  readonly pool: pg.Pool;
  /** Schema holding the read models. Default `eventloom`. */
  readonly schema?: string;
  /**
   * Whose read models these are: documents, checkpoints, leases, failures and dead letters of
   * one tenant, kept apart from the others' by row-level security. Give it the tenant of the
   * event store the projections read. Default `default`.
   */
  readonly tenantId?: string;
  /** Where recorded times (`updatedAt`, `failedAt`) come from. Lease expiry uses the server's clock. */
  readonly clock?: () => Date;
}

/**
 * Opens the read-model store in `schema`, creating or upgrading its tables first.
 *
 * @example
 * const readModels = await openPostgresReadModels({ pool: new pg.Pool({ connectionString }), schema: 'orders' });
 * const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary] });
 */
export async function openPostgresReadModels(options: PostgresReadModelStoreOptions): Promise<PostgresReadModelStore> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be { pool, schema }');
  const { pool } = options;
  if (!pool || typeof pool.connect !== 'function' || typeof pool.query !== 'function') {
    throw new InvalidArgumentError('pool', 'must be a pg.Pool');
  }
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new InvalidArgumentError('clock', 'must be a function returning a Date');
  const schema = namesFor(options.schema ?? 'eventloom').schema;
  const tenantId = normalizeTenantId(options.tenantId);
  const clock = options.clock ?? (() => new Date());
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new StoreUnavailableError(`Could not connect to PostgreSQL to open the read models in schema ${schema}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await migrateReadModels(client, schema, clock);
  } catch (error) {
    client.release(isConnectionError(error) ? (error as Error) : undefined);
    const typed = toStoreError(error, { operation: `creating the read-model tables in schema ${schema}`, writes: true });
    if (typed instanceof EventloomError) throw typed;
    throw new StoreUnavailableError(`Could not create the read-model tables in schema ${schema} (nothing was changed): ${(error as Error).message}`, { cause: error });
  }
  client.release();
  const store = new PostgresReadModelStore(pool, schema, clock, tenantId);
  try {
    await store.open();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Runs of a single-statement piece of work after a serialization failure or deadlock, the first included. */
const MAX_RUNS = 3;
/** Longest time a waiter goes without looking when no NOTIFY reaches it (a lost connection, inline projections). */
export const WAIT_POLL_MS = 500;

type StateRow = { namespace: string; name: string; version: number; checkpoint: string | null; failure: StoredFailure | null; updated_at: string };
type StoredFailure = Omit<ProjectionFailure, 'position'> & { position: string };
type DeadLetterRow = {
  namespace: string;
  position: string;
  event_id: string;
  event_type: string;
  stream_id: string;
  error: string;
  attempts: number;
  recorded_at: string;
};

/** PostgreSQL truncates identifiers longer than this many bytes; table names must fit whole. */
const MAX_IDENTIFIER_BYTES = 63;
const TABLE_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

export class PostgresReadModelStore implements ReadModelStore<PostgresProjectionHandle, PostgresReadModelView> {
  /** The pool the store was given (the schema's owner: it creates tables, grants). */
  readonly pool: pg.Pool;
  /** The schema holding the read models. */
  readonly schema: string;
  /** Whose read models this store reads and writes. */
  readonly tenantId: string;
  /** A batch's transaction mostly waits for the server: a runner reads the next page meanwhile. */
  readonly readAhead = true;
  readonly #queries: ReadModelQueries;
  readonly #clock: () => Date;
  /** The store's own connections, each set up once as the schema's role for the tenant (see `scoped-pool.ts`). */
  readonly #scoped: pg.Pool;
  /** Puts a connection back the way it started, after code of the user's ran SQL on it. */
  readonly #rescope: string;
  /** Tells waiters: commits here at once, other processes' by LISTEN on the tenant's channel. */
  #waker: AppendWaker | undefined;
  #channel: string | null = null;
  #closed = false;

  /** Use `openPostgresReadModels`, which creates the tables first. */
  constructor(pool: pg.Pool, schema: string, clock: () => Date, tenantId = 'default') {
    this.pool = pool;
    this.schema = schema;
    this.tenantId = normalizeTenantId(tenantId);
    this.#clock = clock;
    this.#queries = readModelQueries(quoteIdent(schema));
    const names = namesFor(schema);
    const settings = { role: names.role, tenantId: this.tenantId };
    const config = scopedPoolConfig(pool, settings);
    this.#scoped = new pg.Pool(config);
    // An idle connection that breaks is dropped by the pool; without a listener it would crash the process.
    this.#scoped.on('error', () => undefined);
    this.#rescope = `SET ROLE ${names.qrole}; SET ${'eventloom.tenant_id'} = ${sqlLiteral(this.tenantId)}`;
    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client(config);
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    this.#connect = connect;
  }

  readonly #connect: () => Promise<pg.Client>;

  /** Learns the tenant's channel (made on first use). Called by `openPostgresReadModels`. */
  async open(): Promise<void> {
    const { rows } = await this.#statement<{ channel: string }>('opening the wake-up channel', false, this.#queries.openChannel);
    this.#channel = rows[0]!.channel;
    this.#waker = new AppendWaker(this.#connect, this.#channel);
  }

  /**
   * Runs `fn` in one transaction on a connection of the store's own: all it wrote commits, or
   * nothing. A writing transaction locks the bookkeeping rows it reads, so two writers of one
   * projection take turns. A checkpoint it moved wakes the waiters, here and in other processes.
   * With `batchWrites` (the runner's batches) document writes are held back (`WriteBehind`) and
   * sent in one statement before a query of their collection and before the commit.
   */
  async transaction<R>(fn: (tx: ReadModelTransaction<PostgresProjectionHandle>) => Promise<R> | R, options?: TransactionOptions): Promise<R> {
    this.#assertOpen();
    const readOnly = options?.readOnly === true;
    // A refused send comes out typed, like any statement of the transaction's.
    const heldBack =
      options?.batchWrites === true && !readOnly
        ? (cause: unknown) => toStoreError(cause, { operation: `sending the document writes held back in a read-model transaction on schema ${this.schema}`, writes: true })
        : undefined;
    let moved = false;
    // The caller's work may have done more than SQL: a serialization failure is reported, not retried.
    const result = await this.#inTransaction('a read-model transaction', readOnly, async (client) => {
      const tx = new PostgresReadModelTransaction(client, this.schema, this.tenantId, this.#queries, this.#clock, readOnly, this.#channel, heldBack);
      try {
        const value = await fn(tx);
        await tx.flush();
        moved = tx.notified;
        return value;
      } finally {
        tx.finish();
      }
    });
    if (moved) this.#waker?.signal.notify();
    return result;
  }

  /**
   * `work` in one transaction on the store's connections; what the driver or server raise comes
   * out typed. Code of the user's may have changed the session (SET ROLE): the commit puts it back.
   */
  async #inTransaction<R>(operation: string, readOnly: boolean, work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    const context = { operation: `${operation} on the read models in schema ${this.schema}`, writes: !readOnly };
    const started = Date.now();
    let client: pg.PoolClient;
    try {
      client = await this.#scoped.connect();
    } catch (error) {
      throw toStoreError(error, context, Date.now() - started);
    }
    let broken: Error | undefined;
    const onError = (error: Error): void => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      await client.query(readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      try {
        const result = await work(client);
        await client.query(`COMMIT; ${this.#rescope}`);
        return result;
      } catch (error) {
        if (isConnectionError(error)) broken ??= error as Error;
        else await client.query(`ROLLBACK; ${this.#rescope}`).catch((e: unknown) => (broken ??= e as Error));
        throw error;
      }
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw toStoreError(error, context, Date.now() - started);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * One statement of the store's: a single round trip on a connection already set up, run again
   * after a serialization failure or deadlock.
   */
  async #statement<R extends pg.QueryResultRow>(operation: string, readOnly: boolean, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.#assertOpen();
    const context = { operation: `${operation} on the read models in schema ${this.schema}`, writes: !readOnly };
    const started = Date.now();
    for (let run = 1; ; run++) {
      try {
        return await this.#scoped.query<R>(text, values);
      } catch (error) {
        if (run < MAX_RUNS && isRetryable(error)) continue;
        throw toStoreError(error, context, Date.now() - started);
      }
    }
  }

  /**
   * `fn` inside a transaction someone else runs on `client` (an append's, for inline
   * projections): it neither begins nor ends it. It sends no NOTIFY: in the append's transaction
   * that would serialize every append of the database on PostgreSQL's notify lock through the
   * commit; waiters elsewhere see inline progress by their poll (`WAIT_POLL_MS`).
   *
   * Its document upserts are held back and sent together (`WriteBehind`), before the next read
   * of their collection and when `fn` is done: each is a round trip spent holding the tenant's
   * log head. A refused send is a `HeldBackWriteFailure`, pinned on no one append.
   */
  async inTransaction<R>(client: pg.ClientBase, fn: (tx: PostgresReadModelTransaction) => Promise<R>): Promise<R> {
    this.#assertOpen();
    const tx = new PostgresReadModelTransaction(client, this.schema, this.tenantId, this.#queries, this.#clock, false, null, (cause) => new HeldBackWriteFailure(cause));
    try {
      const result = await fn(tx);
      await tx.flush();
      return result;
    } finally {
      tx.finish();
    }
  }

  async read<R>(target: ReadTarget, fn: (view: PostgresReadModelView) => Promise<R> | R): Promise<R> {
    this.#assertOpen();
    let active: number | null = null;
    const name = typeof target === 'string' ? target : target?.name;
    if (typeof target === 'string' || target?.version === undefined) {
      if (typeof name === 'string') {
        const { rows } = await this.#statement<{ version: number }>(`reading the serving version of ${name}`, true, this.#queries.getActive, [name]);
        active = rows[0]?.version ?? null;
      }
    }
    const projection = resolveReadTarget(target, () => active);
    const query = <R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> =>
      this.#statement<R>(`reading ${projection.namespace}`, true, text, values);
    const view = readView(this.#scoped, this.schema, this.tenantId, this.#queries, projection, query);
    return await fn(view);
  }

  waitForPosition(projection: ReadTarget, position: Position, options?: WaitForPositionOptions): Promise<void> {
    return waitForCheckpoint(projection, position, options, {
      pollIntervalMs: WAIT_POLL_MS,
      changed: (ms, signal) => {
        const waker = this.#waker;
        if (!waker) return new Promise((resolve) => setTimeout(resolve, ms));
        waker.listen();
        return waker.signal.wait(ms, signal);
      },
      read: async (name, version) => {
        const { rows } = await this.#statement<{ namespace: string | null; checkpoint: string | null; failure: StoredFailure | null }>(
          `reading the checkpoint of ${name}`,
          true,
          this.#queries.waitState,
          [name, version ?? null],
        );
        const row = rows[0];
        if (!row || row.namespace === null) return { namespace: null, checkpoint: null, failure: null };
        return {
          namespace: row.namespace,
          checkpoint: row.checkpoint === null ? null : BigInt(row.checkpoint),
          failure: row.failure === null ? null : { ...row.failure, position: BigInt(row.failure.position) },
        };
      },
    });
  }

  async tryAcquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLeaseArguments(key, owner, ttlMs);
    const { rowCount } = await this.#statement(`taking the lease ${key}`, false, this.#queries.acquireLease, [key, owner, ttlMs]);
    return (rowCount ?? 0) > 0;
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#assertOpen();
    await this.#statement(`releasing the lease ${key}`, false, this.#queries.releaseLease, [key, owner]);
  }

  async listProjections(): Promise<readonly (ProjectionState & { readonly active: boolean })[]> {
    this.#assertOpen();
    const { rows } = await this.#statement<StateRow & { active: number | null }>('listing the projections', true, this.#queries.listStates);
    return rows.map((row) => ({ ...decodeState(row), active: row.active === row.version }));
  }

  async deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]> {
    this.#assertOpen();
    const { rows } =
      namespace === undefined
        ? await this.#statement<DeadLetterRow>('listing the dead letters', true, this.#queries.listDeadLetters)
        : await this.#statement<DeadLetterRow>(`listing the dead letters of ${namespace}`, true, this.#queries.listNamespaceDeadLetters, [namespace]);
    return rows.map(decodeDeadLetter);
  }

  /** Ends the store's own connections; the pool it was given belongs to whoever made it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#waker?.close();
    await this.#scoped.end().catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('read-model store');
  }
}

/** One read-model transaction on one client; every method is a statement on it. */
export class PostgresReadModelTransaction implements ReadModelTransaction<PostgresProjectionHandle> {
  #open = true;
  /** Whether a checkpoint, failure or serving version changed: waiters are told at commit. */
  notified = false;
  readonly #target: DocumentTarget;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly schema: string,
    tenantId: string,
    private readonly queries: ReadModelQueries,
    private readonly clock: () => Date,
    private readonly readOnly: boolean,
    /** The tenant's NOTIFY channel; `null` inside someone else's transaction (inline projections). */
    private readonly channel: string | null,
    /** Present: document writes are held back until `flush` or a query of their collection, and a refused send throws what this makes of the driver's error. */
    heldBack?: (cause: unknown) => unknown,
  ) {
    this.#target = {
      queries,
      s: quoteIdent(schema),
      tenantId,
      query: (text, values) => {
        this.#assertOpen();
        return client.query(text, values);
      },
      assertOpen: () => this.#assertOpen(),
      writable: true,
      ...(heldBack && { writeBehind: new WriteBehind(client, quoteIdent(schema), heldBack) }),
    };
  }

  /** Sends the document writes held back, if any. */
  async flush(): Promise<void> {
    this.#assertOpen();
    await this.#target.writeBehind?.flush();
  }

  handle(projection: ProjectionNamespace): PostgresProjectionHandle {
    const target = this.#target;
    const { schema, client } = this;
    // Handlers ask for their collection on every event; build each once per transaction.
    const collections = new Map<string, DocumentCollection<object>>();
    return {
      projection,
      client,
      table: (name) => tableName(schema, projection, name),
      collection: <T extends object = JsonObject>(ref: CollectionRef<T>): DocumentCollection<T> => {
        const name = collectionName(ref);
        let collection = collections.get(name);
        if (!collection) {
          collection = postgresCollection<object>(target, projection.namespace, name);
          collections.set(name, collection);
        }
        return collection as DocumentCollection<T>;
      },
    };
  }

  async getState(namespace: string): Promise<ProjectionState | null> {
    const { rows } = await this.#query<StateRow>(this.readOnly ? this.queries.getState : this.queries.getStateForUpdate, [namespace]);
    return rows[0] ? decodeState(rows[0]) : null;
  }

  async createState(projection: ProjectionNamespace): Promise<void> {
    await this.#query(this.queries.createState, [projection.namespace, projection.name, projection.version, this.#now()]);
  }

  async getCheckpoint(namespace: string): Promise<Position | null> {
    return (await this.getState(namespace))?.checkpoint ?? null;
  }

  async setCheckpoint(namespace: string, position: Position): Promise<void> {
    this.#assertOpen();
    assertStorableBigint(position, 'checkpoint');
    const values = [position.toString(), this.#now(), namespace];
    this.#requireChange(await this.#notifying(this.queries.setCheckpoint, this.queries.setCheckpointNotify, values, true), namespace);
  }

  async setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void> {
    const json = failure === null ? null : JSON.stringify({ ...failure, position: failure.position.toString() });
    this.#requireChange(await this.#notifying(this.queries.setFailure, this.queries.setFailureNotify, [json, this.#now(), namespace]), namespace);
  }

  async addDeadLetter(deadLetter: ProjectionDeadLetter): Promise<void> {
    await this.#query(this.queries.insertDeadLetter, [
      deadLetter.projection.namespace,
      deadLetter.position.toString(),
      deadLetter.eventId,
      deadLetter.eventType,
      deadLetter.streamId,
      deadLetter.error,
      deadLetter.attempts,
      deadLetter.recordedAt,
    ]);
  }

  async getActiveVersion(name: string): Promise<number | null> {
    const { rows } = await this.#query<{ version: number }>(this.queries.getActive, [name]);
    return rows[0]?.version ?? null;
  }

  async setActiveVersion(name: string, version: number): Promise<void> {
    this.#assertOpen();
    projectionNamespace(name, version);
    await this.#notifying(this.queries.setActive, this.queries.setActiveNotify, [name, version, this.#now()]);
  }

  async prepareCollections(projection: ProjectionNamespace, collections: readonly CollectionDefinition<object>[]): Promise<void> {
    this.#assertOpen();
    const names: string[] = [];
    const indexes: string[] = [];
    const fields: string[] = [];
    for (const collection of collections) {
      const name = collectionName(collection);
      for (const index of collection.indexes) {
        names.push(name);
        indexes.push(index.name);
        fields.push(index.fields.join(','));
      }
    }
    if (names.length > 0) await this.#query(this.queries.createIndexes, [projection.namespace, names, indexes, fields]);
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#target.writeBehind?.discard(namespace);
    await this.#query(this.queries.deleteNamespaceDocuments, [namespace]);
    await this.#query(this.queries.deleteState, [namespace]);
    await this.#query(this.queries.dropIndexes, [namespace]);
    const prefix = `${namespace}/`;
    const { rows } = await this.#query<{ tablename: string }>(this.queries.namespaceTables, [this.schema, prefix.length, prefix]);
    for (const { tablename } of rows) await this.#query(`DROP TABLE ${quoteIdent(this.schema)}.${quoteIdent(tablename)}`, []);
  }

  finish(): void {
    this.#open = false;
  }

  /** `plain`, or where there is a channel `notify` with it as the last parameter (same round trip). */
  async #notifying(plain: string, notify: string, values: unknown[], prepared = false): Promise<pg.QueryResult> {
    if (this.channel === null) return this.#query(plain, values, prepared);
    const result = await this.#query(notify, [...values, this.channel], prepared);
    this.notified = true;
    return result;
  }

  /** `prepared`: a statement of every batch (the checkpoint's), prepared once per connection rather than planned each time. */
  #query<R extends pg.QueryResultRow>(text: string, values: unknown[], prepared = false): Promise<pg.QueryResult<R>> {
    this.#assertOpen();
    return prepared ? this.client.query<R>({ name: preparedName(text), text, values }) : this.client.query<R>(text, values);
  }

  #requireChange(result: pg.QueryResult, namespace: string): void {
    if ((result.rowCount ?? 0) === 0) throw new InvalidArgumentError('projection namespace', `${namespace} has no state yet; call createState first`);
  }

  #now(): string {
    return this.clock().toISOString();
  }

  #assertOpen(): void {
    if (!this.#open) throw new InvalidArgumentError('read-model transaction', 'is over: use the handle only inside the transaction that gave it');
  }
}

const preparedNames = new Map<string, string>();

/** A name for `text` as a prepared statement; the same on every connection, and another for another schema's text. */
function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `el_rm_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    preparedNames.set(text, name);
  }
  return name;
}

function readView(
  pool: pg.Pool,
  schema: string,
  tenantId: string,
  queries: ReadModelQueries,
  projection: ProjectionNamespace,
  query: DocumentTarget['query'],
): PostgresReadModelView {
  const target: DocumentTarget = { queries, s: quoteIdent(schema), tenantId, query, assertOpen: () => undefined, writable: false };
  return {
    projection,
    pool,
    table: (name) => tableName(schema, projection, name),
    collection: <T extends object = JsonObject>(ref: CollectionRef<T>): DocumentReader<T> => postgresCollection<T>(target, projection.namespace, ref),
  };
}

function tableName(schema: string, projection: ProjectionNamespace, name: string): string {
  if (typeof name !== 'string' || !TABLE_PATTERN.test(name)) {
    throw new InvalidArgumentError('table name', `must be 1 to 64 letters, digits or '_', got ${JSON.stringify(name)}`);
  }
  const full = `${projection.namespace}/${name}`;
  const bytes = Buffer.byteLength(full, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new InvalidArgumentError(
      'table name',
      `${JSON.stringify(full)} is ${bytes} bytes; PostgreSQL table names stop at ${MAX_IDENTIFIER_BYTES}, so shorten the projection or table name`,
    );
  }
  return `${quoteIdent(schema)}.${quoteIdent(full)}`;
}

function decodeState(row: StateRow): ProjectionState {
  return {
    projection: { name: row.name, version: row.version, namespace: row.namespace },
    checkpoint: row.checkpoint === null ? null : BigInt(row.checkpoint),
    failure: row.failure === null ? null : { ...row.failure, position: BigInt(row.failure.position) },
    updatedAt: row.updated_at,
  };
}

function decodeDeadLetter(row: DeadLetterRow): ProjectionDeadLetter {
  const at = row.namespace.lastIndexOf('@');
  return {
    projection: projectionNamespace(row.namespace.slice(0, at), Number(row.namespace.slice(at + 1))),
    position: BigInt(row.position),
    eventId: row.event_id,
    eventType: row.event_type,
    streamId: row.stream_id,
    error: row.error,
    attempts: row.attempts,
    recordedAt: row.recorded_at,
  };
}
