/**
 * Inline projections on PostgreSQL: applied inside the append's transaction, on its connection,
 * so whoever appended reads the updated read model as soon as the append resolves. The
 * checkpoint moves in the same transaction.
 *
 * The append holds its tenant's log head (see `sql/log-heads.ts`) until it commits, so no other
 * append of the tenant can commit meanwhile, below or above it: the projection applies at once,
 * without waiting for anyone. It cannot apply when its checkpoint is behind — events it handles
 * were appended without it (by a process that does not register it, or before it was registered)
 * — or when a runner holds its row right now. Then the append still goes through, and its result
 * names the projection in `inlineSkipped`: the read model is behind the events until a
 * `ProjectionRunner` running the same projection catches up. Never silently.
 */
import { applyBatch, HandlerFailure, InvalidArgumentError, prepareProjection, type AnyProjection, type RecordedEvent } from '@eventloom/core';
import type pg from 'pg';
import { namesFor, quoteIdent } from '../names.js';
import type { InlineSkipped, PostgresEventStore } from '../postgres-event-store.js';
import type { PostgresProjectionHandle, PostgresReadModelStore } from './postgres-read-model-store.js';

export interface PostgresInlineProjectionOptions {
  readonly eventStore: PostgresEventStore;
  readonly readModels: PostgresReadModelStore;
  readonly projection: AnyProjection<PostgresProjectionHandle>;
}

/**
 * Registers `projection` to run inside every append's transaction. A handler that throws fails
 * the append (nothing of it is written). An append whose events it could not apply says so in
 * its result's `inlineSkipped`. Resolves to the function that unregisters it.
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

  await grantTo(readModels, namesFor(eventStore.schema).qrole);
  // Ready now, so the first append after this applies inline when nothing came before it.
  await readModels.transaction((tx) => prepareProjection(tx, projection, false));

  const types = new Set(projection.eventTypes);
  const prefixes = projection.filter.streamPrefixes;
  const handles = (event: RecordedEvent): boolean =>
    types.has(event.type) && (prefixes === undefined || prefixes.some((prefix) => event.streamId.startsWith(prefix)));
  const unseen = unseenEventsQuery(eventStore.schema, projection);
  const { namespace } = projection.namespace;
  const skipped = (reason: string): InlineSkipped => ({ handler: namespace, reason });
  // A runner's batch holds the row while its handlers run: waiting for it here would hold every
  // append of the tenant (this one holds the log head) for that long.
  const lockIfFree = `SELECT 1 FROM ${quoteIdent(readModels.schema)}.rm_projections WHERE namespace = $1 FOR UPDATE SKIP LOCKED`;

  return eventStore.addInlineHandler(async (events, client) => {
    const relevant = events.filter(handles);
    if (relevant.length === 0) return;
    if ((await client.query(lockIfFree, [namespace])).rowCount === 0) {
      return skipped('its state is locked by a runner working on it, or it was dropped; that runner catches up');
    }
    return readModels.inTransaction(client, async (tx): Promise<InlineSkipped | undefined> => {
      const state = await tx.getState(namespace);
      // Dropped for a rebuild meanwhile: the runner rebuilding it will catch up.
      if (!state) return skipped('it was dropped (a rebuild?); the runner rebuilding it catches up');
      const from = state.checkpoint ?? 0n;
      const first = relevant[0]!.position;
      if (from >= first || (await unseen(client, from, first))) {
        return skipped(
          `its checkpoint (${from}) is behind: events it handles were appended without it (by a process that does not register it, or before it was registered); a ProjectionRunner running it catches up`,
        );
      }
      try {
        await applyBatch(tx, projection, relevant, { expected: state.checkpoint, checkpoint: events.at(-1)!.position, synchronous: false });
      } catch (error) {
        throw error instanceof HandlerFailure ? error.cause : error;
      }
      return undefined;
    });
  });
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
