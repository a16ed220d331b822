/**
 * `readStream`: the stream's row and first batch in one round trip, then keyset pages by version.
 * Stream metadata (truncateBefore, maxCount, maxAgeSeconds) hides events as in the reference store.
 */
import { StreamDeletedError, type ReadStreamOptions, type RecordedEvent } from '@eventloom/core';
import {
  assertStreamId,
  deserializeStreamMetadata,
  firstVisibleVersion,
  normalizeBatchSize,
  normalizeMaxCount,
  normalizeOptions,
  normalizeVersion,
  oldestVisibleTime,
} from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertOpen, paged } from './paged.js';
import { eventFromStreamRow } from './rows.js';

const MAX_VERSION = 9223372036854775807n;
/** Columns of the stream's row before the event columns in the first query. */
const STREAM_COLUMNS = 3;

export interface ReadStreamContext {
  readonly db: StoreDatabase;
  readonly now: () => Date;
  readonly upcast: ((event: RecordedEvent) => RecordedEvent) | undefined;
}

/** Options are checked when iteration starts, as with the reference store's generators. */
export function readStreamEvents(context: ReadStreamContext, streamId: string, options: ReadStreamOptions | undefined): AsyncIterable<RecordedEvent> {
  let next: (() => Promise<readonly RecordedEvent[] | null>) | undefined;
  return paged(() => (next ??= pager(context, streamId, options))(), () => assertOpen(context.db));
}

function pager(context: ReadStreamContext, streamId: string, given: ReadStreamOptions | undefined): () => Promise<readonly RecordedEvent[] | null> {
  const options: ReadStreamOptions = normalizeOptions(given);
  assertStreamId(streamId);
  const backwards = options.direction === 'backwards';
  const fromVersion = normalizeVersion(options.fromVersion, 'fromVersion');
  let remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  const { db, upcast } = context;
  const { queries } = db;
  const errorContext = { operation: `readStream of ${streamId}`, streamId };
  let low = backwards ? 1n : (fromVersion ?? 1n);
  let high = backwards ? (fromVersion ?? MAX_VERSION) : MAX_VERSION;
  let firstVisible = 1n;
  let oldest: string | undefined;
  let started = false;
  let exhausted = false;

  /** The visible events of `rows` (from `offset`), moving the cursor past every row. */
  const take = (rows: unknown[][], offset: number): RecordedEvent[] => {
    const events: RecordedEvent[] = [];
    for (const row of rows) {
      const event = eventFromStreamRow(row, offset, streamId);
      // Rows below the visible range may come first; the cursor never moves back into it.
      if (backwards) high = event.streamVersion - 1n < high ? event.streamVersion - 1n : high;
      else low = event.streamVersion + 1n > low ? event.streamVersion + 1n : low;
      if (event.streamVersion < firstVisible || (oldest !== undefined && event.time < oldest)) continue;
      if (remaining <= 0) break;
      remaining--;
      events.push(upcast ? upcast(event) : event);
    }
    return events;
  };

  return async () => {
    for (;;) {
      if (exhausted || remaining <= 0 || low > high) return null;
      const limit = Math.min(batchSize, remaining);
      let events: RecordedEvent[];
      if (!started) {
        started = true;
        const rows = await db.rows(
          backwards ? queries.streamStartBackwards : queries.streamStartForwards,
          [streamId, low.toString(), high.toString(), limit],
          errorContext,
        );
        const stream = rows[0];
        if (!stream) return null;
        const [version, tombstoned, metadataJson] = stream as [bigint, boolean, string];
        if (tombstoned) throw new StreamDeletedError(streamId);
        const metadata = deserializeStreamMetadata(metadataJson);
        firstVisible = firstVisibleVersion(metadata, version);
        oldest = oldestVisibleTime(metadata, context.now());
        // Like the reference store, a read shows the stream as it was when the read began.
        if (firstVisible > low) low = firstVisible;
        if (version < high) high = version;
        const eventRows = stream[STREAM_COLUMNS] === null ? [] : rows;
        if (eventRows.length < limit) exhausted = true;
        events = take(eventRows, STREAM_COLUMNS);
      } else {
        const rows = await db.rows(
          backwards ? queries.streamBackwards : queries.streamForwards,
          [streamId, low.toString(), high.toString(), limit],
          errorContext,
        );
        if (rows.length < limit) exhausted = true;
        events = take(rows, 0);
      }
      // A page that metadata hid entirely is skipped, not mistaken for the end.
      if (events.length > 0) return events;
    }
  };
}
