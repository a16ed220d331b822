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
import { decodeLogRow, decodeStreamMetadata, decodeStreamRow, type LogRow, type StreamEventRow } from './event-row.js';
import { PagedEvents, type NextPage } from './paged-events.js';
import { corruptFileError } from './sqlite-errors.js';
import type { Statements } from './statements.js';

export interface ReadContext {
  readonly statements: Statements;
  readonly clock: () => Date;
  /** What a decoded event becomes for the caller: upcast by the schema registry; undefined when there is none. */
  readonly upcast: ((event: RecordedEvent) => RecordedEvent) | undefined;
  /** Throws `StoreClosedError` once the store is closed; called before every batch. */
  readonly assertOpen: () => void;
  /** Runs a query: typed errors only (busy, corrupt, I/O). */
  readonly query: <T>(doing: string, read: () => T) => Promise<T>;
  /** The file, for error messages. */
  readonly filename: string;
}

/** Row to event; a row that cannot be decoded means the file is damaged. */
function decoder<Row extends readonly unknown[]>(ctx: ReadContext, decode: (row: Row) => RecordedEvent): (row: Row) => RecordedEvent {
  const upcast = ctx.upcast;
  return (row) => {
    try {
      return upcast ? upcast(decode(row)) : decode(row);
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw corruptFileError(ctx.filename, `decoding the event at position ${String(row[0])}`, `its JSON does not parse: ${error.message}`, error);
      }
      throw error;
    }
  };
}

/** Checks happen on the first `next()`, as they do in MemoryEventStore's generators. */
export function readStreamEvents(ctx: ReadContext, streamId: string, given: ReadStreamOptions | undefined): AsyncIterableIterator<RecordedEvent> {
  return new PagedEvents(
    streamPages(ctx, streamId, given),
    decoder(ctx, (row: StreamEventRow) => decodeStreamRow(row, streamId)),
  );
}

function streamPages(ctx: ReadContext, streamId: string, given: ReadStreamOptions | undefined): NextPage<StreamEventRow> {
  let read: StreamRead | null | undefined;
  return async () => {
    read ??= await startStreamRead(ctx, streamId, given);
    if (read === null) return null;
    const { statement, backwards, batchSize, oldest } = read;
    if (read.remaining <= 0 || read.low > read.high) return null;
    ctx.assertOpen();
    const limit = Math.min(batchSize, read.remaining);
    const { low, high } = read;
    const rows = await ctx.query(`reading ${streamId}`, () => statement.all(streamId, low, high, oldest, limit));
    read.remaining = rows.length < limit ? 0 : read.remaining - rows.length;
    if (rows.length > 0) {
      const last = rows[rows.length - 1]![2];
      if (backwards) read.high = last - 1n;
      else read.low = last + 1n;
    }
    return rows;
  };
}

interface StreamRead {
  readonly statement: Statements['readStreamForwards'];
  readonly backwards: boolean;
  readonly batchSize: number;
  readonly oldest: string;
  remaining: number;
  low: bigint;
  high: bigint;
}

/** The stream as it is now: later appends are not chased, as in MemoryEventStore. Null when there is nothing to read. */
async function startStreamRead(ctx: ReadContext, streamId: string, given: ReadStreamOptions | undefined): Promise<StreamRead | null> {
  ctx.assertOpen();
  const options: ReadStreamOptions = normalizeOptions(given);
  assertStreamId(streamId);
  const backwards = options.direction === 'backwards';
  const fromVersion = normalizeVersion(options.fromVersion, 'fromVersion');
  const remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  const stream = await ctx.query(`reading ${streamId}`, () => ctx.statements.getStream.get(streamId));
  if (stream === undefined) return null;
  if (stream[3] !== 0) throw new StreamDeletedError(streamId);
  const version = BigInt(stream[0]);
  const metadata = stream[1] === '{}' ? {} : decodeStreamMetadata(stream[1], ctx.filename, streamId);
  let low = firstVisibleVersion(metadata, version);
  let high = version;
  if (fromVersion !== undefined) {
    if (backwards) high = fromVersion < high ? fromVersion : high;
    else low = fromVersion > low ? fromVersion : low;
  }
  const oldest = oldestVisibleTime(metadata, ctx.clock()) ?? '';
  const statement = backwards ? ctx.statements.readStreamBackwards : ctx.statements.readStreamForwards;
  return { statement, backwards, batchSize, oldest, remaining, low, high };
}

export function readLogEvents(ctx: ReadContext, given: ReadAllOptions | undefined): AsyncIterableIterator<RecordedEvent> {
  return new PagedEvents(logPages(ctx, given), decoder(ctx, decodeLogRow));
}

function logPages(ctx: ReadContext, given: ReadAllOptions | undefined): NextPage<LogRow> {
  let read: LogRead | undefined;
  return async () => {
    read ??= await startLogRead(ctx, given);
    if (read.remaining <= 0) return null;
    ctx.assertOpen();
    const { statement, params, from } = read;
    const limit = Math.min(read.batchSize, read.remaining);
    const rows = await ctx.query('reading the log', () => statement.all(...params, from, limit));
    read.remaining = rows.length < limit ? 0 : read.remaining - rows.length;
    if (rows.length > 0) read.from = rows[rows.length - 1]![0] + 1n;
    return rows;
  };
}

interface LogRead {
  readonly statement: ReturnType<Statements['logQuery']>['statement'];
  readonly params: readonly string[];
  readonly batchSize: number;
  remaining: number;
  from: number | bigint;
}

async function startLogRead(ctx: ReadContext, given: ReadAllOptions | undefined): Promise<LogRead> {
  ctx.assertOpen();
  const options: ReadAllOptions = normalizeOptions(given);
  const filter = normalizeFilter(options.filter);
  const remaining = normalizeMaxCount(options.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(options.batchSize);
  const from: number | bigint = normalizePosition(options.fromPosition, 'fromPosition') ?? 1;
  const { statement, params } = await ctx.query('preparing a read of the log', () => ctx.statements.logQuery(filter));
  return { statement, params, batchSize, remaining, from };
}
