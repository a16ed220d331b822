/**
 * Inline projections on PostgreSQL: applied inside the append's transaction, on its connection,
 * so whoever appended reads the updated read model as soon as the append resolves. The
 * checkpoint moves in the same transaction.
 *
 * Positions here are not commit order: a transaction that began earlier may still commit events
 * below this append's. So an append applies inline only once it is the oldest transaction in
 * flight on the server (it waits up to `waitMs` for the older ones) and no event the projection
 * has not seen lies between its checkpoint and the append. Otherwise the append goes through
 * untouched and a `ProjectionRunner` running the same projection catches up — run it in a runner
 * as well, for that reason.
 */
import { applyBatch, HandlerFailure, InvalidArgumentError, prepareProjection, type AnyProjection, type RecordedEvent } from '@eventloom/core';
import type pg from 'pg';
import { namesFor, quoteIdent } from '../names.js';
import type { PostgresEventStore } from '../postgres-event-store.js';
import type { PostgresProjectionHandle, PostgresReadModelStore } from './postgres-read-model-store.js';

export interface PostgresInlineProjectionOptions {
  readonly eventStore: PostgresEventStore;
  readonly readModels: PostgresReadModelStore;
  readonly projection: AnyProjection<PostgresProjectionHandle>;
  /** How long an append waits for older transactions before leaving the events to the runner. Default 1000 ms. */
  readonly waitMs?: number;
}

/**
 * Registers `projection` to run inside every append's transaction. A handler that throws fails
 * the append (nothing of it is written). Resolves to the function that unregisters it.
 *
 * The appends run as the event store's role: this grants it the use of the read-model tables
 * (and of tables created in their schema later).
 *
 * @example
 * await addPostgresInlineProjection({ eventStore, readModels, projection: orderSummary });
 * const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary] });
 */
export async function addPostgresInlineProjection(options: PostgresInlineProjectionOptions): Promise<() => void> {
  const { eventStore, readModels, projection } = options ?? {};
  if (!eventStore || typeof eventStore.addInlineHandler !== 'function') {
    throw new InvalidArgumentError('eventStore', 'must be a PostgresEventStore');
  }
  if (!readModels || typeof readModels.inTransaction !== 'function') {
    throw new InvalidArgumentError('readModels', 'must be a PostgresReadModelStore (openPostgresReadModels)');
  }
  if (!projection || typeof projection.apply !== 'function') throw new InvalidArgumentError('projection', 'must be made with defineProjection');
  const waitMs = options.waitMs ?? 1_000;
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new InvalidArgumentError('waitMs', `must be a non-negative number, got ${waitMs}`);

  await grantTo(readModels, namesFor(eventStore.schema).qrole);
  // Ready now, so the first append after this applies inline when nothing came before it.
  await readModels.transaction((tx) => prepareProjection(tx, projection, false));

  const types = new Set(projection.eventTypes);
  const prefixes = projection.filter.streamPrefixes;
  const handles = (event: RecordedEvent): boolean =>
    types.has(event.type) && (prefixes === undefined || prefixes.some((prefix) => event.streamId.startsWith(prefix)));
  const unseen = unseenEventsQuery(eventStore.schema, projection);
  const { namespace } = projection.namespace;

  return eventStore.addInlineHandler(async (events, client) => {
    const relevant = events.filter(handles);
    if (relevant.length === 0) return;
    if (!(await oldestInFlight(client, waitMs))) return;
    await readModels.inTransaction(client, async (tx) => {
      // Locks the projection's row: inline appliers and the runner take turns.
      const state = await tx.getState(namespace);
      // Dropped for a rebuild meanwhile: the runner rebuilding it will catch up.
      if (!state) return;
      const from = state.checkpoint ?? 0n;
      if (from >= relevant[0]!.position || (await unseen(client, from, relevant[0]!.position))) return;
      try {
        await applyBatch(tx, projection, relevant, { expected: state.checkpoint, checkpoint: events.at(-1)!.position, synchronous: false });
      } catch (error) {
        throw error instanceof HandlerFailure ? error.cause : error;
      }
    });
  });
}

/**
 * Waits until no transaction older than this one is in flight, so that no event below this
 * append's can still commit. Each statement takes a fresh snapshot (READ COMMITTED).
 */
async function oldestInFlight(client: pg.ClientBase, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    const { rows } = await client.query<{ oldest: boolean }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot()) >= pg_current_xact_id() AS oldest',
    );
    if (rows[0]!.oldest) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** Whether an event this projection handles lies strictly between two positions. */
function unseenEventsQuery(
  eventSchema: string,
  projection: AnyProjection<PostgresProjectionHandle>,
): (client: pg.ClientBase, after: bigint, before: bigint) => Promise<boolean> {
  const categories = projection.filter.streamPrefixes?.map((prefix) => prefix.slice(0, -1)) ?? null;
  const sql = `SELECT 1 FROM ${quoteIdent(eventSchema)}.events
    WHERE position > $1::bigint AND position < $2::bigint AND NOT tombstoned AND type = ANY ($3::text[])
      AND ($4::text[] IS NULL OR split_part(stream_id, '-', 1) = ANY ($4::text[]))
    LIMIT 1`;
  const types = [...projection.eventTypes];
  return async (client, after, before) => (await client.query(sql, [after.toString(), before.toString(), types, categories])).rowCount! > 0;
}

/** Lets the event store's role read and write the read models, and create its projections' tables. */
async function grantTo(readModels: PostgresReadModelStore, qrole: string): Promise<void> {
  const s = quoteIdent(readModels.schema);
  await readModels.pool.query(`
    GRANT USAGE, CREATE ON SCHEMA ${s} TO ${qrole};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${qrole};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${qrole};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${qrole};`);
}
