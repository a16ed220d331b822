/**
 * Inline projections on PostgreSQL: applied inside the append's transaction, on its connection,
 * so whoever appended reads the updated read model as soon as the append resolves. The
 * checkpoint moves in the same transaction. Appends commit in groups (`group-append.ts`): the
 * projection runs once per group, over the group's new appends.
 *
 * The append holds its tenant's log head (see `sql/log-heads.ts`) until it commits, so no other
 * append of the tenant can commit meanwhile, below or above it: the projection applies at once,
 * without waiting for anyone. It cannot apply when its checkpoint is behind — events it handles
 * were appended without it (by a process that does not register it, or before it was registered)
 * — or when a runner holds its row right now. Then the append still goes through, and its result
 * names the projection in `inlineSkipped`: the read model is behind the events until a
 * `ProjectionRunner` running the same projection catches up. Never silently.
 */
import { InvalidArgumentError, type AnyProjection, type RecordedEvent } from '@eventloom/core';
import { applyInline, inlineEventFilter, inlineGroup, inlineSkip, prepareProjection, type InlineState } from '@eventloom/core/adapter';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { InlineAppendFailure, withGroupForm, type GroupInlineHandler } from '../group-append.js';
import { namesFor, quoteIdent } from '../names.js';
import type { InlineSkipped, PostgresEventStore } from '../postgres-event-store.js';
import { HeldBackWriteFailure } from './documents.js';
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
  if (readModels.tenantId !== eventStore.tenantId) {
    // Row-level security would hide the one tenant's read models from the other's appends: every append would skip.
    throw new InvalidArgumentError(
      'readModels',
      `belongs to tenant ${JSON.stringify(readModels.tenantId)}, but the event store appends for tenant ${JSON.stringify(eventStore.tenantId)}; open them for the same tenant`,
    );
  }

  await grantTo(readModels, namesFor(eventStore.schema).qrole);
  // Ready now, so the first append after this applies inline when nothing came before it.
  await readModels.transaction((tx) => prepareProjection(tx, projection, false));

  const handles = inlineEventFilter(projection);
  const { namespace } = projection.namespace;
  const skipped = (reason: string): InlineSkipped => ({ handler: namespace, reason });
  const ready = readyQuery(eventStore.schema, readModels.schema, projection);

  // Once per group of appends (`group-append.ts`), all of it spent holding the tenant's log head:
  // one round trip locks the state, reads the checkpoint and looks for unseen events; then the
  // handlers' own statements; then one checkpoint write. When it applies is core's rule.
  const group: GroupInlineHandler = async (appends, client) => {
    const answers = new Array<InlineSkipped | undefined>(appends.length).fill(undefined);
    const seen = inlineGroup(appends, handles);
    if (!seen) return answers;
    const skipAll = (reason: InlineSkipped): readonly (InlineSkipped | undefined)[] =>
      seen.relevant.map((events) => (events.length > 0 ? reason : undefined));
    const state = await ready(client, namespace, seen.from);
    // The look for unseen events came with the state, in the same round trip.
    const skip = inlineSkip(state, seen, () => state!.behind);
    if (!state || skip === 'missing') return skipAll(skipped('its state is locked by a runner working on it, or it was dropped (a rebuild?); that runner catches up'));
    if (skip === 'behind') {
      // The appends of a group commit together, so each later one would find the same.
      return skipAll(
        skipped(
          `its checkpoint (${state.checkpoint ?? 0n}) is behind: events it handles were appended without it (by a process that does not register it, or before it was registered); a ProjectionRunner running it catches up`,
        ),
      );
    }
    try {
      await readModels.inTransaction(client, (tx) =>
        applyInline(tx, projection, seen, state, (index, cause) => (cause instanceof HeldBackWriteFailure ? cause : new InlineAppendFailure(index, cause))),
      );
    } catch (error) {
      // Document upserts of the whole group, sent together, failed: not pinned on one append, so
      // the group fails whole and its appends run again one by one (`group-append.ts`).
      throw error instanceof HeldBackWriteFailure ? error.cause : error;
    }
    return answers;
  };
  const single = async (events: readonly RecordedEvent[], client: pg.PoolClient): Promise<InlineSkipped | undefined> => {
    try {
      return (await group([events], client))[0];
    } catch (error) {
      throw error instanceof InlineAppendFailure ? error.cause : error;
    }
  };
  return eventStore.addInlineHandler(withGroupForm(single, group));
}

interface ReadyState extends InlineState {
  /** The checkpoint is at or past this append, or an event the projection handles lies between them. */
  readonly behind: boolean;
}

/**
 * Locks the projection's state unless a runner holds it (a runner's batch holds the row while its
 * handlers run; waiting for it would hold every append of the tenant that long), reads it (the
 * only read of it in the group: the lock keeps it as read), and tells whether the projection has seen everything it handles before `first`. No row: locked, or dropped.
 */
function readyQuery(
  eventSchema: string,
  readModelSchema: string,
  projection: AnyProjection<PostgresProjectionHandle>,
): (client: pg.ClientBase, namespace: string, first: bigint) => Promise<ReadyState | undefined> {
  const categories = projection.filter.streamPrefixes?.map((prefix) => prefix.slice(0, -1)) ?? null;
  // The checkpoint comes out of a CTE, so that it reaches the scan of the events as a parameter
  // and both ends of the range bound the index scan; as a correlated value it was only a filter,
  // and every append scanned the whole log below it.
  const sql = `WITH p AS MATERIALIZED (
      SELECT checkpoint, failure FROM ${quoteIdent(readModelSchema)}.rm_projections WHERE namespace = $1 FOR UPDATE SKIP LOCKED
    )
    SELECT p.checkpoint::text AS checkpoint, p.failure ->> 'position' AS failed_at,
      coalesce(p.checkpoint, 0) >= $2::bigint OR EXISTS (
        SELECT 1 FROM ${quoteIdent(eventSchema)}.events e
        WHERE e.position > (SELECT coalesce(checkpoint, 0) FROM p) AND e.position < $2::bigint AND NOT e.tombstoned
          AND e.type = ANY ($3::text[])
          AND ($4::text[] IS NULL OR split_part(e.stream_id, '-', 1) = ANY ($4::text[]))) AS behind
    FROM p`;
  const types = [...projection.eventTypes];
  // Prepared once per connection, as the appends' statements are: planning it again for every group costs more than running it.
  const name = `el_inline_ready_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
  return async (client, namespace, first) => {
    const { rows } = await client.query<{ checkpoint: string | null; failed_at: string | null; behind: boolean }>({
      name,
      text: sql,
      values: [namespace, first.toString(), types, categories],
    });
    const row = rows[0];
    return (
      row && {
        checkpoint: row.checkpoint === null ? null : BigInt(row.checkpoint),
        failedAt: row.failed_at === null ? null : BigInt(row.failed_at),
        behind: row.behind,
      }
    );
  };
}

/**
 * Lets the event store's role read and write the read models, and create its projections' tables.
 * Tables made later are covered too, whoever of the two roles makes them: the read-model store's
 * (a runner's init, a rebuild) or the event store's (a handler's CREATE TABLE in an append).
 */
async function grantTo(readModels: PostgresReadModelStore, qrole: string): Promise<void> {
  const s = quoteIdent(readModels.schema);
  const own = namesFor(readModels.schema).qrole;
  const privileges = 'SELECT, INSERT, UPDATE, DELETE';
  const defaults = (creator: string, grantee: string): string => `
    ALTER DEFAULT PRIVILEGES FOR ROLE ${creator} IN SCHEMA ${s} GRANT ${privileges} ON TABLES TO ${grantee};
    ALTER DEFAULT PRIVILEGES FOR ROLE ${creator} IN SCHEMA ${s} GRANT USAGE ON SEQUENCES TO ${grantee};`;
  await readModels.pool.query(`
    GRANT USAGE, CREATE ON SCHEMA ${s} TO ${qrole};
    GRANT ${privileges} ON ALL TABLES IN SCHEMA ${s} TO ${qrole};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${qrole};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${qrole};
    ${defaults('CURRENT_USER', qrole)}
    ${qrole === own ? '' : `${defaults(own, qrole)}${defaults(qrole, own)}`}`);
}
