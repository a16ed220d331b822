/**
 * `readStream`: the stream's row and first batch in one round trip, then keyset pages by version.
 * Stream metadata (truncateBefore, maxCount, maxAgeSeconds) hides events as in the reference store.
 */
import { StreamDeletedError, type ReadStreamOptions, type RecordedEvent, type SomeFieldsOf } from '@eventloom/core';
import {
  assertStreamId,
  deserializeStreamMetadata,
  firstVisibleVersion,
  normalizeBatchSize,
  normalizeFields,
  normalizeMaxCount,
  normalizeOptions,
  normalizeVersion,
  oldestVisibleTime,
} from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertOpen, paged } from './paged.js';
import { fieldPlan } from './field-rows.js';
import { eventFromStreamRow } from './rows.js';
import type { Statement } from './sql/queries.js';

const MAX_VERSION = 9223372036854775807n;
/** Columns of the stream's row before the event columns in the first query. */
const STREAM_COLUMNS = 3;

export interface ReadStreamContext {
  readonly db: StoreDatabase;
  readonly now: () => Date;
  readonly upcast: ((event: RecordedEvent) => RecordedEvent) | undefined;
}

/** Options are checked when iteration starts, as with the reference store's generators. */
type Yielded = RecordedEvent | SomeFieldsOf;

export function readStreamEvents(context: ReadStreamContext, streamId: string, options: ReadStreamOptions | undefined): AsyncIterable<Yielded> {
  let next: (() => Promise<readonly Yielded[] | null>) | undefined;
  return paged(() => (next ??= pager(context, streamId, options))(), () => assertOpen(context.db));
}

/** How a read's rows are fetched and become events: whole, or only the fields asked for. */
interface RowShape {
  readonly startForwards: Statement;
  readonly startBackwards: Statement;
  readonly forwards: Statement;
  readonly backwards: Statement;
  /** Where a row (from its offset) holds the version and the time, which paging and visibility need. */
  readonly versionAt: number;
  readonly timeAt: number;
  readonly decode: (row: readonly unknown[], offset: number) => Yielded;
}

function rowShape(context: ReadStreamContext, streamId: string, fields: ReturnType<typeof normalizeFields>): RowShape {
  const { queries } = context.db;
  const upcast = context.upcast;
  // Upcasters see whole events: with a registry, a read with fields decodes the whole row, upcasts, then picks.
  if (fields && !upcast) {
    const plan = fieldPlan(fields, 'stream');
    const reads = queries.fields;
    return {
      startForwards: reads.streamStart(plan, false),
      startBackwards: reads.streamStart(plan, true),
      forwards: reads.stream(plan, false),
      backwards: reads.stream(plan, true),
      versionAt: 0,
      timeAt: 1,
      decode: (row, offset) => plan.decode(row, offset, streamId),
    };
  }
  const whole = (row: readonly unknown[], offset: number): RecordedEvent => eventFromStreamRow(row, offset, streamId);
  return {
    startForwards: queries.streamStartForwards,
    startBackwards: queries.streamStartBackwards,
    forwards: queries.streamForwards,
    backwards: queries.streamBackwards,
    versionAt: 2,
    timeAt: 9,
    decode: !upcast
      ? whole
      : fields
        ? (row, offset) => fields.pick(upcast(whole(row, offset)))
        : (row, offset) => upcast(whole(row, offset)),
  };
}

function pager(context: ReadStreamContext, streamId: string, given: ReadStreamOptions | undefined): () => Promise<readonly Yielded[] | null> {
  const options: ReadStreamOptions = normalizeOptions(given);
  assertStreamId(streamId);
  const backwards = options.direction === 'backwards';
  const fromVersion = normalizeVersion(options.fromVersion, 'fromVersion');
  let remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  const shape = rowShape(context, streamId, normalizeFields(options.fields));
  const { versionAt, timeAt, decode } = shape;
  const { db } = context;
  const errorContext = { operation: `readStream of ${streamId}`, streamId };
  let low = backwards ? 1n : (fromVersion ?? 1n);
  let high = backwards ? (fromVersion ?? MAX_VERSION) : MAX_VERSION;
  let firstVisible = 1n;
  let oldest: string | undefined;
  let started = false;
  let exhausted = false;

  /** The visible events of `rows` (from `offset`), moving the cursor past every row. */
  const take = (rows: unknown[][], offset: number): Yielded[] => {
    const events: Yielded[] = [];
    for (const row of rows) {
      const version = row[offset + versionAt] as bigint;
      // Rows below the visible range may come first; the cursor never moves back into it.
      if (backwards) high = version - 1n < high ? version - 1n : high;
      else low = version + 1n > low ? version + 1n : low;
      if (version < firstVisible || (oldest !== undefined && (row[offset + timeAt] as string) < oldest)) continue;
      if (remaining <= 0) break;
      remaining--;
      events.push(decode(row, offset));
    }
    return events;
  };

  return async () => {
    for (;;) {
      if (exhausted || remaining <= 0 || low > high) return null;
      const limit = Math.min(batchSize, remaining);
      let events: Yielded[];
      if (!started) {
        started = true;
        const rows = await db.rows(
          backwards ? shape.startBackwards : shape.startForwards,
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
          backwards ? shape.backwards : shape.forwards,
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
