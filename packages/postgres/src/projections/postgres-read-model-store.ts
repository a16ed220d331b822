/**
 * The PostgreSQL read-model store: read models as jsonb documents (and the projection's own
 * tables) in one schema, written in transactions that also carry the projection's checkpoint.
 * Handlers get the transaction's client for plain SQL beside the document API, which answers
 * with promises: handlers on this store are `async`.
 */
import {
  assertLeaseArguments,
  InvalidArgumentError,
  projectionNamespace,
  resolveReadTarget,
  StoreClosedError,
  StoreUnavailableError,
  type AsyncDocumentCollection,
  type AsyncDocumentReader,
  type MaybePromise,
  type Position,
  type ProjectionDeadLetter,
  type ProjectionFailure,
  type ProjectionHandleBase,
  type ProjectionNamespace,
  type ProjectionState,
  type ReadModelStore,
  type ReadModelTransaction,
  type ReadModelViewBase,
  type ReadTarget,
  type TransactionOptions,
} from '@eventloom/core';
import type pg from 'pg';
import { isConnectionError } from '../errors.js';
import { namesFor, quoteIdent } from '../names.js';
import { postgresCollection, type DocumentTarget } from './documents.js';
import { migrateReadModels } from './schema.js';
import { readModelQueries, type ReadModelQueries } from './sql.js';

/** What PostgreSQL projection handlers get: documents, plus the transaction's client for plain SQL. */
export interface PostgresProjectionHandle extends ProjectionHandleBase {
  /**
   * The client whose transaction the handler runs in; its statements commit with the checkpoint.
   * Do not begin, commit or roll back.
   */
  readonly client: pg.ClientBase;
  /**
   * The quoted, schema-qualified name of this projection version's own table `name`, e.g.
   * `"app"."order-summary@2/orders"`. A new version gets new tables; a rebuild drops them.
   */
  table(name: string): string;
  collection<T extends object>(name: string, ...typeOnly: T[]): AsyncDocumentCollection<T>;
}

/** What readers of a PostgreSQL read model get. */
export interface PostgresReadModelView extends ReadModelViewBase {
  /** The store's pool, for plain SQL reads of the projection's tables. */
  readonly pool: pg.Pool;
  table(name: string): string;
  collection<T extends object>(name: string, ...typeOnly: T[]): AsyncDocumentReader<T>;
}

export interface PostgresReadModelStoreOptions {
  /**
   * The connections to use. Their user must be allowed to create the schema and its tables
   * (the first open migrates them); the store does not end the pool.
   */
  readonly pool: pg.Pool;
  /** Schema holding the read models. Default `eventloom`. */
  readonly schema?: string;
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
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(`Could not create the read-model tables in schema ${schema} (nothing was changed): ${(error as Error).message}`, { cause: error });
  }
  client.release();
  return new PostgresReadModelStore(pool, schema, clock);
}

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
  readonly synchronous = false;
  readonly pool: pg.Pool;
  /** The schema holding the read models. */
  readonly schema: string;
  readonly #queries: ReadModelQueries;
  readonly #clock: () => Date;
  #closed = false;

  /** Use `openPostgresReadModels`, which creates the tables first. */
  constructor(pool: pg.Pool, schema: string, clock: () => Date) {
    this.pool = pool;
    this.schema = schema;
    this.#clock = clock;
    this.#queries = readModelQueries(quoteIdent(schema));
  }

  /**
   * Runs `fn` in one transaction on a connection of the pool: all it wrote commits, or nothing.
   * A writing transaction locks the bookkeeping rows it reads, so two writers of one projection
   * take turns.
   */
  async transaction<R>(fn: (tx: ReadModelTransaction<PostgresProjectionHandle>) => MaybePromise<R>, options?: TransactionOptions): Promise<R> {
    this.#assertOpen();
    const readOnly = options?.readOnly === true;
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      await client.query(readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      const tx = new PostgresReadModelTransaction(client, this.schema, this.#queries, this.#clock, readOnly);
      try {
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        if (isConnectionError(error)) broken = error as Error;
        else await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
        throw error;
      } finally {
        tx.finish();
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * `fn` inside a transaction someone else runs on `client` (an append's, for inline
   * projections): it neither begins nor ends it.
   */
  async inTransaction<R>(client: pg.ClientBase, fn: (tx: PostgresReadModelTransaction) => Promise<R>): Promise<R> {
    this.#assertOpen();
    const tx = new PostgresReadModelTransaction(client, this.schema, this.#queries, this.#clock, false);
    try {
      return await fn(tx);
    } finally {
      tx.finish();
    }
  }

  async read<R>(target: ReadTarget, fn: (view: PostgresReadModelView) => MaybePromise<R>): Promise<R> {
    this.#assertOpen();
    let active: number | null = null;
    const name = typeof target === 'string' ? target : target?.name;
    if (typeof target === 'string' || target?.version === undefined) {
      if (typeof name === 'string') {
        const { rows } = await this.pool.query<{ version: number }>(this.#queries.getActive, [name]);
        active = rows[0]?.version ?? null;
      }
    }
    const projection = resolveReadTarget(target, () => active);
    return await fn(readView(this.pool, this.schema, this.#queries, projection));
  }

  async tryAcquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLeaseArguments(key, owner, ttlMs);
    const { rowCount } = await this.pool.query(this.#queries.acquireLease, [key, owner, ttlMs]);
    return (rowCount ?? 0) > 0;
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#assertOpen();
    await this.pool.query(this.#queries.releaseLease, [key, owner]);
  }

  async listProjections(): Promise<readonly (ProjectionState & { readonly active: boolean })[]> {
    this.#assertOpen();
    const { rows } = await this.pool.query<StateRow & { active: number | null }>(this.#queries.listStates);
    return rows.map((row) => ({ ...decodeState(row), active: row.active === row.version }));
  }

  async deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]> {
    this.#assertOpen();
    const { rows } =
      namespace === undefined
        ? await this.pool.query<DeadLetterRow>(this.#queries.listDeadLetters)
        : await this.pool.query<DeadLetterRow>(this.#queries.listNamespaceDeadLetters, [namespace]);
    return rows.map(decodeDeadLetter);
  }

  /** Stops using the pool; the pool itself belongs to whoever made it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw new StoreUnavailableError(`Could not connect to PostgreSQL for the read models in schema ${this.schema}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('read-model store');
  }
}

/** One read-model transaction on one client; every method is a statement on it. */
export class PostgresReadModelTransaction implements ReadModelTransaction<PostgresProjectionHandle> {
  #open = true;
  readonly #target: DocumentTarget;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly schema: string,
    private readonly queries: ReadModelQueries,
    private readonly clock: () => Date,
    private readonly readOnly: boolean,
  ) {
    this.#target = {
      queries,
      query: (text, values) => {
        this.#assertOpen();
        return client.query(text, values);
      },
      assertOpen: () => this.#assertOpen(),
      writable: true,
    };
  }

  handle(projection: ProjectionNamespace): PostgresProjectionHandle {
    const target = this.#target;
    const { schema, client } = this;
    // Handlers ask for their collection on every event; build each once per transaction.
    const collections = new Map<string, AsyncDocumentCollection<object>>();
    return {
      projection,
      client,
      table: (name) => tableName(schema, projection, name),
      collection: <T extends object>(name: string): AsyncDocumentCollection<T> => {
        let collection = collections.get(name);
        if (!collection) {
          collection = postgresCollection<object>(target, projection.namespace, name);
          collections.set(name, collection);
        }
        return collection as AsyncDocumentCollection<T>;
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
    if (typeof position !== 'bigint' || position < 0n) throw new InvalidArgumentError('checkpoint', 'must be a non-negative bigint');
    this.#requireChange(await this.#query(this.queries.setCheckpoint, [position.toString(), this.#now(), namespace]), namespace);
  }

  async setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void> {
    const json = failure === null ? null : JSON.stringify({ ...failure, position: failure.position.toString() });
    this.#requireChange(await this.#query(this.queries.setFailure, [json, this.#now(), namespace]), namespace);
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
    await this.#query(this.queries.setActive, [name, version, this.#now()]);
  }

  async dropNamespace(namespace: string): Promise<void> {
    await this.#query(this.queries.deleteNamespaceDocuments, [namespace]);
    await this.#query(this.queries.deleteState, [namespace]);
    const prefix = `${namespace}/`;
    const { rows } = await this.#query<{ tablename: string }>(this.queries.namespaceTables, [this.schema, prefix.length, prefix]);
    for (const { tablename } of rows) await this.#query(`DROP TABLE ${quoteIdent(this.schema)}.${quoteIdent(tablename)}`, []);
  }

  finish(): void {
    this.#open = false;
  }

  #query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    this.#assertOpen();
    return this.client.query<R>(text, values);
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

function readView(pool: pg.Pool, schema: string, queries: ReadModelQueries, projection: ProjectionNamespace): PostgresReadModelView {
  const target: DocumentTarget = {
    queries,
    query: (text, values) => pool.query(text, values),
    assertOpen: () => undefined,
    writable: false,
  };
  return {
    projection,
    pool,
    table: (name) => tableName(schema, projection, name),
    collection: <T extends object>(name: string): AsyncDocumentReader<T> => postgresCollection<T>(target, projection.namespace, name),
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
