/**
 * Reads of the global log (`readAll`, `readCategory`, a consumer group's partition): keyset pages
 * by position. They need no bound: a tenant's appends commit in position order (`sql/log-heads.ts`).
 */
import { type EventField, type LogFilter, type Position, type RecordedEvent, type SomeFieldsOf } from '@eventloom/core';
import {
  normalizeBatchSize,
  normalizeFields,
  normalizeFilter,
  normalizeMaxCount,
  normalizeOptions,
  normalizePosition,
} from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import type { Statement } from './sql/queries.js';
import { assertOpen, paged } from './paged.js';
import { fieldPlan } from './field-rows.js';
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
  readonly fields?: readonly EventField[];
}

type Yielded = RecordedEvent | SomeFieldsOf;

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
export function readLogEvents(context: ReadLogContext, query: LogQuery): AsyncIterable<Yielded> {
  let next: (() => Promise<readonly Yielded[] | null>) | undefined;
  return paged(() => (next ??= pager(context, query))(), () => assertOpen(context.db));
}

/**
 * The statement of a read and how its rows become events. Upcasters see whole events: with a
 * registry, a read with fields decodes the whole row, upcasts, then picks.
 */
function rowShape(
  context: ReadLogContext,
  whole: { readonly log: Statement; readonly category: Statement; readonly partitionLog: Statement },
  kind: 'log' | 'category' | 'partitionLog',
  fields: ReturnType<typeof normalizeFields>,
): { readonly statement: Statement; readonly decode: (row: readonly unknown[]) => Yielded } {
  const { upcast } = context;
  if (fields && !upcast) {
    const plan = fieldPlan(fields, 'log');
    return { statement: context.db.queries.fields[kind](plan), decode: (row) => plan.decode(row, 0, '') };
  }
  const decode = !upcast
    ? (row: readonly unknown[]) => eventFromRow(row)
    : fields
      ? (row: readonly unknown[]) => fields.pick(upcast(eventFromRow(row)))
      : (row: readonly unknown[]) => upcast(eventFromRow(row));
  return { statement: whole[kind], decode };
}

function pager(context: ReadLogContext, given: LogQuery | undefined): () => Promise<readonly Yielded[] | null> {
  const query: LogQuery = normalizeOptions(given);
  const filter = normalizeFilter(query.filter);
  let remaining = normalizeMaxCount(query.maxCount) ?? Infinity;
  const batchSize = normalizeBatchSize(query.batchSize);
  let from = startOf(query.fromPosition);
  const fields = normalizeFields(query.fields);
  const { db } = context;
  const { queries } = db;
  const types = sendable(filter?.eventTypes);
  const { category, partition } = query;
  let exhausted = category !== undefined && category.includes('\u0000');
  // The category index splits at the first '-'; a category holding one is read as a prefix.
  const byCategory = category !== undefined && !category.includes('-');
  const prefixes = byCategory ? null : category !== undefined ? [`${category}-`] : sendable(filter?.streamPrefixes);
  const { statement, decode } = rowShape(context, queries, byCategory ? 'category' : partition ? 'partitionLog' : 'log', fields);
  const errorContext = { operation: category === undefined ? 'readAll' : `readCategory of ${category}` };

  return async () => {
    if (exhausted || remaining <= 0) return null;
    const limit = Math.min(batchSize, remaining);
    const values: unknown[] = [from.toString(), types, byCategory ? category : prefixes, limit];
    if (partition) values.push(partition.count, partition.index);
    const rows = await db.rows(statement, values, errorContext);
    if (rows.length < limit) exhausted = true;
    if (rows.length === 0) return null;
    const events = new Array<Yielded>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = decode(rows[i]!);
    // Every column list starts with the position.
    from = (rows.at(-1)![0] as bigint) + 1n;
    remaining -= events.length;
    return events;
  };
}
