/**
 * The PostgreSQL state-based outbox: `outbox.add(client, message)` with the caller's own `pg`
 * client inside BEGIN writes the message beside the caller's rows (migration 7's
 * `outbox_messages`), and the relay (core's) moves committed rows to the transport and deletes
 * them, fenced by its lease. Order: rows are relayed in the order they were added; two
 * transactions that commit at the same moment may be relayed in either order (one transaction's
 * messages, and transactions that follow each other, keep theirs).
 */
import { InvalidArgumentError, StoreUnavailableError, type Outbox, type OutboxMessage, type OutboxRelay, type OutboxRelayOptions } from '@eventloom/core';
import {
  AppendSignal,
  assertOutboxName,
  decodeStoredOutboxMessage,
  encodeStoredOutboxMessage,
  prepareOutboxMessages,
  relayOutbox,
  type OutboxStorage,
} from '@eventloom/core/adapter';
import type pg from 'pg';
import { isConnectionError, toStoreError } from '../errors.js';
import { migrate } from '../migrate.js';
import { namesFor, quoteIdent } from '../names.js';
import { normalizeTenantId } from '../options.js';
import { outboxQueries } from './outbox-sql.js';

/** The transport contract (imported this way until the root exports `Transport`). */
type Transport = Parameters<typeof relayOutbox>[1];

/** The schema version that has the outbox and inbox tables. */
export const OUTBOX_SCHEMA_VERSION = 7;

export interface PostgresOutboxOptions {
  /** The relay's connections. Its user must own the schema the first time (the tables are created then). */
  readonly pool: pg.Pool;
  /** Schema holding the tables: the event store's. Default `eventloom`. */
  readonly schema?: string;
  /** Whose outbox this is. Default `default`. */
  readonly tenantId?: string;
  /** Default `default`. One relay per name is active at a time. */
  readonly name?: string;
  readonly clock?: () => Date;
}

/**
 * Opens the outbox in `schema`, migrating it when it has not got the outbox tables yet.
 *
 * @example
 * const outbox = await openPostgresOutbox({ pool, schema: 'users' });
 * const client = await pool.connect();
 * await client.query('BEGIN');
 * await client.query('INSERT INTO accounts (id, email) VALUES ($1, $2)', [id, email]);
 * await outbox.add(client, { topic: 'users', type: 'UserRegistered', data: { id, email } });
 * await client.query('COMMIT');
 */
export async function openPostgresOutbox(options: PostgresOutboxOptions): Promise<PostgresOutbox> {
  const checked = checkPoolOptions(options, 'outbox');
  const name = options.name ?? 'default';
  assertOutboxName(name, 'name');
  await ensureOutboxTables(checked.pool, checked.schema);
  return new PostgresOutbox(checked.pool, checked.schema, checked.tenantId, name, options.clock ?? (() => new Date()));
}

export function checkPoolOptions(
  options: { readonly pool: pg.Pool; readonly schema?: string; readonly tenantId?: string; readonly clock?: () => Date },
  what: string,
): { pool: pg.Pool; schema: string; tenantId: string } {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', `must be { pool, schema? } for the ${what}`);
  const { pool } = options;
  if (!pool || typeof pool.connect !== 'function' || typeof pool.query !== 'function') throw new InvalidArgumentError('pool', 'must be a pg.Pool');
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new InvalidArgumentError('clock', 'must be a function returning a Date');
  return { pool, schema: namesFor(options.schema ?? 'eventloom').schema, tenantId: normalizeTenantId(options.tenantId) };
}

/** Migrates `schema` when it is older than the outbox and inbox tables. */
export async function ensureOutboxTables(pool: pg.Pool, schema: string): Promise<void> {
  const names = namesFor(schema);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new StoreUnavailableError(`Could not connect to PostgreSQL to open the outbox/inbox in schema ${schema}: ${(error as Error).message}`, { cause: error });
  }
  let broken: Error | undefined;
  try {
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT CASE WHEN to_regclass($1) IS NULL THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM ${names.qschema}.schema_migrations) END AS version`,
      [`${names.qschema}.schema_migrations`],
    ).catch(async () => ({ rows: [{ version: 0 }] }));
    if ((rows[0]?.version ?? 0) < OUTBOX_SCHEMA_VERSION) await migrate(client, names);
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    throw toStoreError(error, { operation: `creating the outbox and inbox tables in schema ${schema}`, writes: true });
  } finally {
    client.release(broken);
  }
}

export class PostgresOutbox implements Outbox<pg.ClientBase> {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly tenantId: string;
  readonly name: string;
  readonly #clock: () => Date;
  readonly #queries: ReturnType<typeof outboxQueries>;
  readonly #signal = new AppendSignal();

  /** Use `openPostgresOutbox`, which creates the tables first. */
  constructor(pool: pg.Pool, schema: string, tenantId: string, name: string, clock: () => Date) {
    this.pool = pool;
    this.schema = schema;
    this.tenantId = tenantId;
    this.name = name;
    this.#clock = clock;
    this.#queries = outboxQueries(quoteIdent(schema));
  }

  /**
   * Writes `messages` with `client`, inside the caller's transaction (BEGIN … COMMIT on that
   * client): they are relayed once it commits, never if it rolls back. Returns the message ids.
   */
  async add(client: pg.ClientBase, messages: OutboxMessage | readonly OutboxMessage[]): Promise<readonly string[]> {
    if (client === null || typeof client !== 'object' || typeof (client as pg.ClientBase).query !== 'function') {
      throw new InvalidArgumentError('tx', 'must be the pg client your transaction runs on (after BEGIN), so the messages commit with your writes');
    }
    const prepared = prepareOutboxMessages(messages, this.#clock());
    if (prepared.length === 0) return [];
    const json = `[${prepared.map(encodeStoredOutboxMessage).join(',')}]`;
    try {
      await client.query(this.#queries.add, [this.tenantId, this.name, json]);
    } catch (error) {
      throw toStoreError(error, { operation: `adding ${prepared.length} messages to the outbox ${this.name}`, writes: true });
    }
    setImmediate(() => this.#signal.notify());
    return prepared.map((message) => message.id);
  }

  startRelay(transport: Transport, options?: OutboxRelayOptions): OutboxRelay {
    return relayOutbox(this.#storage(), transport, options);
  }

  async pending(): Promise<number> {
    const { rows } = await this.#query<{ n: number }>('counting the outbox', this.#queries.count, [this.tenantId, this.name]);
    return rows[0]!.n;
  }

  async #query<R extends pg.QueryResultRow>(doing: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw toStoreError(error, { operation: `${doing} (${this.name})` });
    }
  }

  #storage(): OutboxStorage {
    const q = this.#queries;
    const key = [this.tenantId, this.name];
    return {
      name: this.name,
      acquire: async (holder, ttlMs) => {
        const { rows } = await this.#query<{ epoch: string }>('taking the relay lease', q.acquire, [...key, holder, Math.ceil(ttlMs)]);
        return rows.length === 0 ? null : BigInt(rows[0]!.epoch);
      },
      release: async (holder) => {
        await this.#query('releasing the relay lease', q.release, [...key, holder]);
      },
      peek: async (limit) => {
        const { rows } = await this.#query<{ seq: string; message: object }>('reading the outbox', q.peek, [...key, limit]);
        return rows.map((row) => ({ seq: BigInt(row.seq), message: decodeStoredOutboxMessage(row.message) }));
      },
      remove: async (lease, seqs) => {
        const { rows } = await this.#query<{ held: boolean }>('deleting relayed messages', q.remove, [
          ...key,
          lease.holder,
          lease.epoch.toString(),
          seqs.map((seq) => seq.toString()),
        ]);
        return rows[0]!.held;
      },
      waitForRows: (timeoutMs, signal) => this.#signal.wait(timeoutMs, signal),
      count: () => this.pending(),
    };
  }
}
