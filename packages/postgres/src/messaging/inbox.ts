/**
 * The PostgreSQL inbox: `handle(consumer, message, fn)` takes a client from the pool, BEGINs,
 * inserts the (tenant, consumer, message id) record first and runs `fn(client)` in the same
 * transaction. A concurrent delivery of the same message waits on the record's unique index
 * until the first commits (then it is a duplicate) or rolls back (then it runs).
 */
import { StoreClosedError, type Inbox, type InboxMessage, type InboxOutcome, type InboxPruneOptions, type InboxRetention } from '@eventloom/core';
import { assertInboxConsumer, assertInboxHandler, assertInboxMessage, pruneCutoff, startPeriodicPrune } from '@eventloom/core/adapter';
import type pg from 'pg';
import { isConnectionError, toStoreError } from '../errors.js';
import { quoteIdent } from '../names.js';
import { checkPoolOptions, ensureOutboxTables } from './outbox.js';
import { outboxQueries } from './outbox-sql.js';

export interface PostgresInboxOptions {
  /** The connections handlers run on: give the pool your own tables are reached through. */
  readonly pool: pg.Pool;
  /** Schema holding the inbox table: the event store's. Default `eventloom`. */
  readonly schema?: string;
  /** Whose inbox this is. Default `default`. */
  readonly tenantId?: string;
  /** Prune old records periodically. Default: never (call `prune`). */
  readonly retention?: InboxRetention;
  readonly clock?: () => Date;
}

/**
 * Opens the inbox in `schema`, migrating it when it has not got the inbox table yet.
 *
 * @example
 * const inbox = await openPostgresInbox({ pool, schema: 'users' });
 * await inbox.handle('welcome-email', message, (client) => client.query('INSERT INTO emails (user_id) VALUES ($1)', [message.data.userId]));
 */
export async function openPostgresInbox(options: PostgresInboxOptions): Promise<PostgresInbox> {
  const checked = checkPoolOptions(options, 'inbox');
  await ensureOutboxTables(checked.pool, checked.schema);
  return new PostgresInbox(checked.pool, checked.schema, checked.tenantId, options.retention, options.clock ?? (() => new Date()));
}

export class PostgresInbox implements Inbox<pg.PoolClient> {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly tenantId: string;
  readonly #queries: ReturnType<typeof outboxQueries>;
  readonly #stopPruning: (() => Promise<void>) | undefined;
  #closed = false;

  /** Use `openPostgresInbox`, which creates the table first. */
  constructor(pool: pg.Pool, schema: string, tenantId: string, retention: InboxRetention | undefined, clock: () => Date) {
    this.pool = pool;
    this.schema = schema;
    this.tenantId = tenantId;
    this.#queries = outboxQueries(quoteIdent(schema));
    this.#stopPruning = retention ? startPeriodicPrune((o) => this.prune(o), retention, undefined, clock) : undefined;
  }

  async handle<R>(consumer: string, message: InboxMessage, fn: (tx: pg.PoolClient) => Promise<R> | R): Promise<InboxOutcome<R>> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage(message);
    assertInboxHandler(fn);
    const operation = `handling message ${message.id} for ${consumer}`;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, { operation });
    }
    let broken: Error | undefined;
    const onError = (error: Error): void => {
      broken ??= error;
    };
    client.on('error', onError);
    let began = false;
    try {
      let recorded: boolean;
      try {
        await client.query('BEGIN');
        began = true;
        const result = await client.query(this.#queries.record, [this.tenantId, consumer, message.id]);
        recorded = result.rowCount === 1;
      } catch (error) {
        throw toStoreError(error, { operation: `recording message ${message.id} for ${consumer} in the inbox` });
      }
      if (!recorded) {
        await client.query('ROLLBACK');
        began = false;
        return { duplicate: true };
      }
      const result = await fn(client);
      try {
        await client.query('COMMIT');
        began = false;
      } catch (error) {
        throw toStoreError(error, { operation: `committing ${operation}`, writes: true });
      }
      return { duplicate: false, result };
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      if (began && !broken) await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken ??= rollbackError as Error));
      // The handler's own errors pass through as they are; PostgreSQL's become typed.
      throw toStoreError(error, { operation });
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async has(consumer: string, messageId: string): Promise<boolean> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage({ id: messageId });
    const { rowCount } = await this.#query(`looking up message ${messageId} for ${consumer}`, this.#queries.has, [this.tenantId, consumer, messageId]);
    return rowCount === 1;
  }

  async prune(options: InboxPruneOptions): Promise<number> {
    this.#assertOpen();
    const cutoff = pruneCutoff(options);
    const { rowCount } = await this.#query('pruning the inbox', this.#queries.prune, [this.tenantId, cutoff.toISOString()]);
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stopPruning?.();
  }

  async #query(doing: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw toStoreError(error, { operation: doing });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('inbox');
  }
}

