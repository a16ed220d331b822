/**
 * Reads of the global log (`readAll`, `readCategory`, a consumer group's partition): keyset pages
 * by position. They need no bound: a tenant's appends commit in position order (`sql/log-heads.ts`).
 */
import { type LogFilter, type Position, type RecordedEvent } from '@eventloom/core';
import {
  normalizeBatchSize,
  normalizeFilter,
  normalizeMaxCount,
  normalizeOptions,
  normalizePosition,
} from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertOpen, paged } from './paged.js';
import { eventFromRow } from './rows.js';

export interface LogQuery {
  readonly fromPosition?: Position;
  readonly maxCount?: number;
  readonly batchSize?: number;
  readonly filter?: LogFilter;
  /** Only streams `category-…`. */
  readonly category?: string;
  /** Only streams whose `partition_of(stream_id, count)` is `index`. */
  readonly partition?: { readonly count: number; readonly index: number };
}

export interface ReadLogContext {
  readonly db: StoreDatabase;
  readonly upcast: ((event: RecordedEvent) => RecordedEvent) | undefined;
}

/** Strings holding U+0000 cannot be sent; no stream id or type holds one, so they match nothing. */
function sendable(list: readonly string[] | undefined): readonly string[] | null {
  return list === undefined ? null : list.filter((item) => !item.includes('\u0000'));
}

/** Core's rule for positions, so every store refuses the same ones (numbers, negatives, beyond 2^63 - 1). */
function startOf(fromPosition: Position | undefined): bigint {
  return normalizePosition(fromPosition, 'fromPosition') ?? 0n;
}

/** Options are checked when iteration starts, as with the reference store's generators. */
export function readLogEvents(context: ReadLogContext, query: LogQuery): AsyncIterable<RecordedEvent> {
  let next: (() => Promise<readonly RecordedEvent[] | null>) | undefined;
  return paged(() => (next ??= pager(context, query))(), () => assertOpen(context.db));
}

function pager(context: ReadLogContext, given: LogQuery | undefined): () => Promise<readonly RecordedEvent[] | null> {
  const query: LogQuery = normalizeOptions(given);
  const filter = normalizeFilter(query.filter);
  let remaining = normalizeMaxCount(query.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(query.batchSize);
  let from = startOf(query.fromPosition);
  const { db, upcast } = context;
  const { queries } = db;
  const types = sendable(filter?.eventTypes);
  const { category, partition } = query;
  let exhausted = category !== undefined && category.includes('\u0000');
  // The category index splits at the first '-'; a category holding one is read as a prefix.
  const byCategory = category !== undefined && !category.includes('-');
  const prefixes = byCategory ? null : category !== undefined ? [`${category}-`] : sendable(filter?.streamPrefixes);
  const statement = byCategory ? queries.category : partition ? queries.partitionLog : queries.log;
  const errorContext = { operation: category === undefined ? 'readAll' : `readCategory of ${category}` };

  return async () => {
    if (exhausted || remaining <= 0) return null;
    const limit = Math.min(batchSize, remaining);
    const values: unknown[] = [from.toString(), types, byCategory ? category : prefixes, limit];
    if (partition) values.push(partition.count, partition.index);
    const rows = await db.rows(statement, values, errorContext);
    if (rows.length < limit) exhausted = true;
    if (rows.length === 0) return null;
    const events = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const event = eventFromRow(rows[i]!);
      events[i] = upcast ? upcast(event) : event;
    }
    from = events.at(-1)!.position + 1n;
    remaining -= events.length;
    return events;
  };
}
