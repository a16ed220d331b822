/**
 * Reads of one stream and of the global log, in keyset-paged batches: the iterable holds one
 * batch at a time, however long the stream or the log.
 */
import { StreamDeletedError, type ReadAllOptions, type ReadStreamOptions, type RecordedEvent, type SomeFieldsOf } from '@eventloom/core';
import {
  assertStreamId,
  firstVisibleVersion,
  normalizeBatchSize,
  normalizeFields,
  normalizeFilter,
  normalizeMaxCount,
  normalizeOptions,
  normalizePosition,
  normalizeVersion,
  oldestVisibleTime,
} from '@eventloom/core/adapter';
import { decodeLogRow, decodeStreamMetadata, decodeStreamRow, type LogRow, type StreamEventRow } from './event-row.js';
import { fieldPlan, type FieldRow } from './field-rows.js';
import { PagedEvents, type NextPage } from './paged-events.js';
import { corruptFileError } from './sqlite-errors.js';
import type { Statement } from 'better-sqlite3';
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

type Decode<Row> = (row: Row) => RecordedEvent | SomeFieldsOf;

/** Row to event; a row that cannot be decoded means the file is damaged. `at` names the row in the error. */
function guarded<Row extends readonly unknown[]>(ctx: ReadContext, decode: Decode<Row>, at: (row: Row) => string): Decode<Row> {
  return (row) => {
    try {
      return decode(row);
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw corruptFileError(ctx.filename, `decoding the event ${at(row)}`, `its JSON does not parse: ${error.message}`, error);
      }
      throw error;
    }
  };
}

/**
 * How a read's rows become events: whole, or only the fields asked for. Upcasters see whole
 * events, so with a schema registry a read with fields decodes the whole row, upcasts, then picks.
 */
function rowDecoder<Row extends readonly unknown[]>(ctx: ReadContext, whole: (row: Row) => RecordedEvent, fields: ReturnType<typeof normalizeFields>): Decode<Row> {
  const upcast = ctx.upcast;
  if (!upcast) return fields ? (row) => fields.pick(whole(row)) : whole;
  return fields ? (row) => fields.pick(upcast(whole(row))) : (row) => upcast(whole(row));
}

/** Checks happen on the first `next()`, as they do in MemoryEventStore's generators. */
export function readStreamEvents(
  ctx: ReadContext,
  streamId: string,
  given: ReadStreamOptions | undefined,
): AsyncIterableIterator<RecordedEvent | SomeFieldsOf> {
  let decode: Decode<FieldRow> | undefined;
  const pages = streamPages(ctx, streamId, given, (chosen) => (decode = chosen));
  return new PagedEvents(pages, (row: FieldRow) => decode!(row));
}

function streamPages(
  ctx: ReadContext,
  streamId: string,
  given: ReadStreamOptions | undefined,
  useDecoder: (decode: Decode<FieldRow>) => void,
): NextPage<FieldRow> {
  let read: StreamRead | null | undefined;
  return async () => {
    if (read === undefined) {
      read = await startStreamRead(ctx, streamId, given);
      if (read !== null) useDecoder(read.decode);
    }
    if (read === null) return null;
    const { statement, backwards, batchSize, oldest, versionAt } = read;
    if (read.remaining <= 0 || read.low > read.high) return null;
    ctx.assertOpen();
    const limit = Math.min(batchSize, read.remaining);
    const { low, high } = read;
    const rows = await ctx.query(`reading ${streamId}`, () => statement.all(streamId, low, high, oldest, limit));
    read.remaining = rows.length < limit ? 0 : read.remaining - rows.length;
    if (rows.length > 0) {
      const last = rows[rows.length - 1]![versionAt] as bigint;
      if (backwards) read.high = last - 1n;
      else read.low = last + 1n;
    }
    return rows;
  };
}

interface StreamRead {
  readonly statement: Statement<unknown[], FieldRow>;
  /** Where the row holds its stream version, which the pages move by. */
  readonly versionAt: number;
  readonly decode: Decode<FieldRow>;
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
  const fields = normalizeFields(options.fields);
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
  // Narrow rows only where no upcaster needs the whole event.
  if (fields && !ctx.upcast) {
    const plan = fieldPlan(fields, 'stream');
    const queries = ctx.statements.streamQueries(plan.columns);
    const decode = guarded(ctx, (row: FieldRow) => plan.decode(row, streamId), (row) => `at version ${String(row[0])} of ${streamId}`);
    return { statement: backwards ? queries.backwards : queries.forwards, versionAt: 0, decode, backwards, batchSize, oldest, remaining, low, high };
  }
  const whole = (row: StreamEventRow): RecordedEvent => decodeStreamRow(row, streamId);
  const decode = guarded(ctx, rowDecoder(ctx, whole, fields), (row) => `at position ${String(row[0])}`) as Decode<FieldRow>;
  const statement = (backwards ? ctx.statements.readStreamBackwards : ctx.statements.readStreamForwards) as Statement<unknown[], FieldRow>;
  return { statement, versionAt: 2, decode, backwards, batchSize, oldest, remaining, low, high };
}

export function readLogEvents(ctx: ReadContext, given: ReadAllOptions | undefined): AsyncIterableIterator<RecordedEvent | SomeFieldsOf> {
  let decode: Decode<FieldRow> | undefined;
  const pages = logPages(ctx, given, (chosen) => (decode = chosen));
  return new PagedEvents(pages, (row: FieldRow) => decode!(row));
}

function logPages(ctx: ReadContext, given: ReadAllOptions | undefined, useDecoder: (decode: Decode<FieldRow>) => void): NextPage<FieldRow> {
  let read: LogRead | undefined;
  return async () => {
    if (read === undefined) {
      read = await startLogRead(ctx, given);
      useDecoder(read.decode);
    }
    if (read.remaining <= 0) return null;
    ctx.assertOpen();
    const { statement, params, from } = read;
    const limit = Math.min(read.batchSize, read.remaining);
    const rows = await ctx.query('reading the log', () => statement.all(...params, from, limit));
    read.remaining = rows.length < limit ? 0 : read.remaining - rows.length;
    // Every column list starts with the position.
    if (rows.length > 0) read.from = (rows[rows.length - 1]![0] as bigint) + 1n;
    return rows;
  };
}

interface LogRead {
  readonly statement: Statement<unknown[], FieldRow>;
  readonly params: readonly string[];
  readonly decode: Decode<FieldRow>;
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
  const fields = normalizeFields(options.fields);
  const at = (row: FieldRow): string => `at position ${String(row[0])}`;
  // Narrow rows only where no upcaster needs the whole event.
  if (fields && !ctx.upcast) {
    const plan = fieldPlan(fields, 'log');
    const { statement, params } = await ctx.query('preparing a read of the log', () => ctx.statements.logQuery(filter, plan.columns));
    const decode = guarded(ctx, (row: FieldRow) => plan.decode(row, ''), at);
    return { statement, params, decode, batchSize, remaining, from };
  }
  const { statement, params } = await ctx.query('preparing a read of the log', () => ctx.statements.logQuery(filter));
  const decode = guarded(ctx, rowDecoder(ctx, decodeLogRow, fields), at) as Decode<FieldRow>;
  return { statement: statement as Statement<unknown[], FieldRow>, params, decode, batchSize, remaining, from };
}
