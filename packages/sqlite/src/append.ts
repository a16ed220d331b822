/**
 * One append, run inside the group commit's transaction: the expected-version rules, the exact
 * retry, the inserts and the inline handlers, all under a savepoint so a failure undoes only this
 * append. Synchronous without inline handlers; with them it awaits each handler, and the group
 * commit holds the connection's lock (connection-lock.ts) so nothing else runs SQL meanwhile.
 */
import {
  categoryOf,
  DuplicateEventIdError,
  StreamDeletedError,
  WrongExpectedVersionError,
  type AppendResult,
  type RecordedEvent,
} from '@eventloom/core';
import { expectationHolds, retryMatchesExpectation, type PreparedAppend } from '@eventloom/core/adapter';
import { decodeStreamRow, envelopeText, type StreamEventRow } from './event-row.js';
import type { InlineReentry } from './inline-reentry.js';
import type { SqliteDatabase } from './open-database.js';
import { corruptFileError, isUniqueViolation } from './sqlite-errors.js';
import { INSERT_EVENT_PARAMS } from './sql/events.js';
import { MAX_ROWS_PER_INSERT, type Statements } from './statements.js';
import { TransactionScope } from './transaction-guard.js';

/**
 * Runs inside an append's transaction, after its events are inserted, and is awaited there:
 * throwing (or rejecting) rolls the append back. `db` is the connection inside that transaction;
 * it works until the handler's promise settles, and is refused (TransactionClosedError) after.
 */
// `unknown`, like `void`, lets a one-line arrow that returns a value be a handler; what it returns is awaited.
export type InlineHandler = (events: readonly RecordedEvent[], db: SqliteDatabase) => unknown;

export interface AppendContext {
  readonly db: SqliteDatabase;
  readonly statements: Statements;
  readonly source: string;
  readonly clock: () => Date;
  readonly inlineHandlers: ReadonlySet<InlineHandler>;
  /** Refuses the store's own writes while a handler runs. */
  readonly reentry: InlineReentry;
  /** What inline handlers see: events as readers would (upcast). */
  readonly present: (event: RecordedEvent) => RecordedEvent;
}

/** A promise only when inline handlers run (they are awaited inside the savepoint). */
export function appendInTransaction(ctx: AppendContext, append: PreparedAppend): AppendResult | Promise<AppendResult> {
  const { statements: s, db } = ctx;
  const { streamId, expected } = append;
  const row = s.getStream.get(streamId);
  if (row !== undefined && row[3] !== 0) throw new StreamDeletedError(streamId);
  const version = row === undefined ? 0 : row[0];
  const visible = version > 0 && row![2] === 0;
  if (!expectationHolds(expected, { version: BigInt(version), visible })) {
    const retry = exactRetry(s, append, version);
    if (retry) return retry;
    throw new WrongExpectedVersionError(streamId, expected, version === 0 ? null : BigInt(version));
  }

  s.savepoint.run();
  let inserted: { result: AppendResult; recorded: readonly RecordedEvent[] };
  try {
    inserted = insert(ctx, append, version, row !== undefined);
  } catch (error) {
    return undo(ctx, append, version, error);
  }
  if (ctx.inlineHandlers.size === 0) {
    s.release.run();
    return inserted.result;
  }
  return runInlineHandlers(ctx, inserted.recorded).then(
    () => {
      s.release.run();
      return inserted.result;
    },
    (error: unknown) => undo(ctx, append, version, error),
  );
}

/** Undoes this append's savepoint after `error`; an id already recorded by the same append is its exact retry. */
function undo(ctx: AppendContext, append: PreparedAppend, version: number, error: unknown): AppendResult {
  const { statements: s, db } = ctx;
  // A failed statement can end the whole transaction (disk full, I/O); then there is no savepoint left.
  if (db.inTransaction) {
    s.rollbackTo.run();
    s.release.run();
  }
  if (db.inTransaction && isUniqueViolation(error, 'events.id')) {
    const retry = exactRetry(s, append, version);
    if (retry) return retry;
  }
  throw error;
}

function insert(ctx: AppendContext, append: PreparedAppend, version: number, streamKnown: boolean): { result: AppendResult; recorded: readonly RecordedEvent[] } {
  const { statements: s, source } = ctx;
  const { streamId, events } = append;
  const time = recordedTime(ctx, streamId, version);
  const category = categoryOf(streamId);
  const sourceJson = JSON.stringify(source);
  const recorded: RecordedEvent[] = new Array(events.length);
  // This transaction holds the write lock: the positions after the head are this append's.
  const head = s.logHead.get()!;
  const params: unknown[] = new Array(Math.min(events.length, MAX_ROWS_PER_INSERT) * INSERT_EVENT_PARAMS);
  for (let first = 0; first < events.length; first += MAX_ROWS_PER_INSERT) {
    const rows = Math.min(MAX_ROWS_PER_INSERT, events.length - first);
    if (rows * INSERT_EVENT_PARAMS !== params.length) params.length = rows * INSERT_EVENT_PARAMS;
    for (let r = 0, p = 0; r < rows; r++) {
      const i = first + r;
      const event = events[i]!;
      const position = head + BigInt(i + 1);
      const streamVersion = version + i + 1;
      params[p++] = position;
      params[p++] = event.id;
      params[p++] = streamId;
      params[p++] = category;
      params[p++] = streamVersion;
      params[p++] = event.type;
      params[p++] = event.dataJson;
      params[p++] = time;
      params[p++] = envelopeText(event.id, event.schemaVersion, event.metadataJson, event.correlationId, event.causationId, source, sourceJson);
      recorded[i] = {
        id: event.id,
        type: event.type,
        schemaVersion: event.schemaVersion,
        streamId,
        streamVersion: BigInt(streamVersion),
        position,
        time,
        source,
        correlationId: event.correlationId,
        causationId: event.causationId,
        // The caller's own objects: they were just checked to be plain JSON, so no copy is needed.
        data: event.data,
        metadata: event.metadataJson === '{}' ? {} : event.metadata,
      };
    }
    s.insertEvents(rows).run(params);
  }
  const next = version + events.length;
  if (streamKnown) s.setStreamVersion.run(next, streamId);
  else s.insertStream.run(streamId, next);
  const last = recorded[recorded.length - 1]!;
  return { result: { nextExpectedVersion: last.streamVersion, position: last.position, idempotent: false, events: recorded }, recorded };
}

/**
 * The store's clock, but never earlier than the stream's last event: a clock set back (or another
 * process's clock behind this one) cannot make time run backwards within a stream. ISO 8601 in
 * UTC with milliseconds compares as text.
 */
function recordedTime(ctx: AppendContext, streamId: string, version: number): string {
  const now = ctx.clock().toISOString();
  if (version === 0) return now;
  const last = ctx.statements.eventTime.get(streamId, version);
  return last !== undefined && last > now ? last : now;
}

/** Each handler in turn, awaited inside the append's savepoint; its `db` is refused once it has settled. */
async function runInlineHandlers(ctx: AppendContext, recorded: readonly RecordedEvent[]): Promise<void> {
  const events = recorded.map(ctx.present);
  const streamId = recorded[0]!.streamId;
  for (const handler of [...ctx.inlineHandlers]) {
    const scope = new TransactionScope(ctx.db, `the append to ${streamId}`);
    try {
      await ctx.reentry.run(() => handler(events, scope.guard(handler)));
    } finally {
      scope.close();
    }
  }
}

/**
 * The original result when the append's ids are already recorded here, in order, under the same
 * expectation (as in MemoryEventStore); null when none of them is known.
 * @throws DuplicateEventIdError when some are known but not as exactly this append
 */
function exactRetry(s: Statements, append: PreparedAppend, version: number): AppendResult | null {
  const { streamId, expected, events } = append;
  const first = s.findEventById.get(events[0]!.id);
  if (first === undefined) {
    const known = events.find((event) => s.findEventById.get(event.id) !== undefined);
    if (known === undefined) return null;
    throw new DuplicateEventIdError(known.id, streamId);
  }
  const [firstStream, firstVersion] = first;
  if (firstStream !== streamId) throw new DuplicateEventIdError(events[0]!.id, streamId);
  const rows = s.readStreamForwards.all(streamId, firstVersion, firstVersion + events.length - 1, '', events.length);
  if (rows.length !== events.length || rows.some((row, i) => row[1] !== events[i]!.id)) {
    throw new DuplicateEventIdError(events[0]!.id, streamId);
  }
  if (!retryMatchesExpectation(expected, BigInt(firstVersion))) {
    throw new WrongExpectedVersionError(streamId, expected, BigInt(version));
  }
  const recorded = rows.map((row) => decodeStored(row, streamId, s.filename));
  const last = recorded[recorded.length - 1]!;
  return { nextExpectedVersion: last.streamVersion, position: last.position, idempotent: true, events: recorded };
}

function decodeStored(row: StreamEventRow, streamId: string, filename: string): RecordedEvent {
  try {
    return decodeStreamRow(row, streamId);
  } catch (error) {
    throw corruptFileError(filename, `decoding the event at position ${String(row[0])}`, `its JSON does not parse: ${(error as Error).message}`, error);
  }
}
