/**
 * Inline projections: applied inside the append's transaction, so whoever appended reads the
 * updated read model as soon as the append resolves (read-your-writes). The checkpoint moves in
 * the same transaction.
 *
 * When it applies is core's rule (`@eventloom/core/adapter`'s inline.ts): only on top of an
 * up-to-date checkpoint. Otherwise the append goes through untouched and a `ProjectionRunner`
 * running the same projection catches up; from then on the inline path takes over again. Run the
 * projection in a runner as well, for that reason. This module supplies SQLite's part: the look
 * for unseen events and the savepoint the handlers run in.
 */
import { InvalidArgumentError, type AnyProjection } from '@eventloom/core';
import { applyInline, inlineEventFilter, inlineGroup, inlineSkip, prepareProjection } from '@eventloom/core/adapter';
import type { SqliteDatabase } from '../open-database.js';
import { storeError } from '../sqlite-errors.js';
import type { SqliteEventStore } from '../sqlite-event-store.js';
import type { SqliteProjectionHandle, SqliteReadModelStore } from './sqlite-read-model-store.js';

export interface InlineProjectionOptions {
  readonly eventStore: SqliteEventStore;
  /** A store on the event store's own connection (`openSqliteReadModels({ database: eventStore.database })`). */
  readonly readModels: SqliteReadModelStore;
  readonly projection: AnyProjection<SqliteProjectionHandle>;
}

/**
 * Registers `projection` to run inside every append's transaction: its handlers (async, as on
 * every store) are awaited there, so what they write commits with the append. A handler that
 * throws fails the append (nothing of it is written). Returns the function that unregisters it.
 *
 * @example
 * const readModels = openSqliteReadModels({ database: eventStore.database });
 * addInlineProjection({ eventStore, readModels, projection: orderSummary });
 * const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary] });
 */
export function addInlineProjection(options: InlineProjectionOptions): () => void {
  const { eventStore, readModels, projection } = options ?? {};
  if (!eventStore || typeof eventStore.addInlineHandler !== 'function') {
    throw new InvalidArgumentError('eventStore', 'must be a SqliteEventStore');
  }
  if (!readModels || readModels.database !== eventStore.database) {
    throw new InvalidArgumentError('readModels', "must be a SqliteReadModelStore on the event store's own connection: openSqliteReadModels({ database: eventStore.database })");
  }
  if (!projection || typeof projection.apply !== 'function') throw new InvalidArgumentError('projection', 'must be made with defineProjection');
  const handles = inlineEventFilter(projection);
  let unseen: (after: bigint, before: bigint) => boolean;
  try {
    unseen = unseenEventsQuery(eventStore.database, projection);
  } catch (error) {
    throw storeError(error, `preparing the inline projection ${projection.namespace.namespace}`, 'nothing', eventStore.database.name);
  }
  const { namespace } = projection.namespace;
  const prepare = (): Promise<unknown> => readModels.transaction((tx) => prepareProjection(tx, projection));
  let prepared = false;
  // Ready now, so readers find it serving, and the first append after this applies inline when nothing came before it.
  prepare().then(
    () => (prepared = true),
    // The first append prepares it again inside its own transaction, and fails if that fails.
    () => undefined,
  );

  return eventStore.addInlineHandler(async (events) => {
    const group = inlineGroup([events], handles);
    if (!group) return;
    // Inside the append's transaction: these nest as savepoints, and commit with the append.
    if (!prepared) {
      await prepare();
      prepared = true;
    }
    await readModels.transaction(async (tx) => {
      const found = await tx.getState(namespace);
      const state = found && { checkpoint: found.checkpoint, failedAt: found.failure?.position ?? null };
      // Dropped for a rebuild meanwhile, or behind: the runner running it catches up (SQLite says nothing in the append's result).
      if (!state || inlineSkip(state, group, unseen)) return;
      // A handler's own error fails the append.
      await applyInline(tx, projection, group, state, (_, cause) => cause);
    });
  });
}

/** Whether an event this projection handles lies strictly between two positions. */
function unseenEventsQuery(db: SqliteDatabase, projection: AnyProjection<SqliteProjectionHandle>): (after: bigint, before: bigint) => boolean {
  const types = projection.eventTypes.map(() => '?').join(', ');
  const categories = projection.filter.streamPrefixes?.map((prefix) => prefix.slice(0, -1));
  const sql =
    `SELECT 1 FROM events WHERE position > ? AND position < ? AND type IN (${types})` +
    (categories ? ` AND category IN (${categories.map(() => '?').join(', ')})` : '') +
    ' LIMIT 1';
  const statement = db.prepare<unknown[], number>(sql).pluck();
  const bound = [...projection.eventTypes, ...(categories ?? [])];
  return (after, before) => statement.get(after, before, ...bound) !== undefined;
}
