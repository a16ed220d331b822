/**
 * Reads of one stream and of the global log, in keyset-paged batches: the iterable holds one
 * batch at a time, however long the stream or the log.
 */
import { StreamDeletedError, type ReadAllOptions, type ReadStreamOptions, type RecordedEvent } from '@eventloom/core';
import {
  assertStreamId,
  firstVisibleVersion,
  normalizeBatchSize,
  normalizeFilter,
  normalizeMaxCount,
  normalizeOptions,
  normalizePosition,
  normalizeVersion,
  oldestVisibleTime,
} from '@eventloom/core/adapter';
import { decodeStreamMetadata, type EventRow } from './event-row.js';
import { corruptFileError } from './sqlite-errors.js';
import type { Statements } from './statements.js';

export interface ReadContext {
  readonly statements: Statements;
  readonly clock: () => Date;
  /** Row to event, upcast. */
  readonly decode: (row: EventRow) => RecordedEvent;
  /** Throws `StoreClosedError` once the store is closed; called before every batch. */
  readonly assertOpen: () => void;
  /** Runs a query: typed errors only (busy, corrupt, I/O). */
  readonly query: <T>(doing: string, read: () => T) => Promise<T>;
  /** The file, for error messages. */
  readonly filename: string;
}

/** Row to event; a row that cannot be decoded means the file is damaged. */
function decodeRow(ctx: ReadContext, row: EventRow): RecordedEvent {
  try {
    return ctx.decode(row);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw corruptFileError(ctx.filename, `decoding the event at position ${String(row[0])}`, `its JSON does not parse: ${error.message}`, error);
    }
    throw error;
  }
}

/** Checks happen on the first `next()`, as they do in MemoryEventStore's generators. */
export async function* readStreamEvents(ctx: ReadContext, streamId: string, given: ReadStreamOptions | undefined): AsyncGenerator<RecordedEvent> {
  ctx.assertOpen();
  const options: ReadStreamOptions = normalizeOptions(given);
  assertStreamId(streamId);
  const backwards = options.direction === 'backwards';
  const fromVersion = normalizeVersion(options.fromVersion, 'fromVersion');
  let remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  const stream = await ctx.query(`reading ${streamId}`, () => ctx.statements.getStream.get(streamId));
  if (stream === undefined) return;
  if (stream[3] !== 0) throw new StreamDeletedError(streamId);
  const version = BigInt(stream[0]);
  const metadata = stream[1] === '{}' ? {} : decodeStreamMetadata(stream[1], ctx.filename, streamId);
  // The stream as it is now: later appends are not chased, as in MemoryEventStore.
  let low = firstVisibleVersion(metadata, version);
  let high = version;
  if (fromVersion !== undefined) {
    if (backwards) high = fromVersion < high ? fromVersion : high;
    else low = fromVersion > low ? fromVersion : low;
  }
  const oldest = oldestVisibleTime(metadata, ctx.clock()) ?? '';
  const statement = backwards ? ctx.statements.readStreamBackwards : ctx.statements.readStreamForwards;
  while (remaining > 0 && low <= high) {
    ctx.assertOpen();
    const limit = Math.min(batchSize, remaining);
    const rows = await ctx.query(`reading ${streamId}`, () => statement.all(streamId, low, high, oldest, limit));
    for (const row of rows) yield decodeRow(ctx, row);
    if (rows.length < limit) return;
    remaining -= rows.length;
    const last = BigInt(rows[rows.length - 1]![3]);
    if (backwards) high = last - 1n;
    else low = last + 1n;
  }
}

export async function* readLogEvents(ctx: ReadContext, given: ReadAllOptions | undefined): AsyncGenerator<RecordedEvent> {
  ctx.assertOpen();
  const options: ReadAllOptions = normalizeOptions(given);
  const filter = normalizeFilter(options.filter);
  let remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  let from: number | bigint = normalizePosition(options.fromPosition, 'fromPosition') ?? 1;
  const { statement, params } = await ctx.query('preparing a read of the log', () => ctx.statements.logQuery(filter));
  while (remaining > 0) {
    ctx.assertOpen();
    const limit = Math.min(batchSize, remaining);
    const rows = await ctx.query('reading the log', () => statement.all(...params, from, limit));
    for (const row of rows) yield decodeRow(ctx, row);
    if (rows.length < limit) return;
    remaining -= rows.length;
    from = BigInt(rows[rows.length - 1]![0]) + 1n;
  }
}
