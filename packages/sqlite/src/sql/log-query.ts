/**
 * The query of the global log (`readAll`, `readCategory`, subscriptions) for a given filter. The
 * filter's shape picks the access path, so each page is a keyset range scan and never a sort:
 * - one stream prefix with a '-' (a category, or part of one): the category index;
 * - else one event type: the type index;
 * - else the log itself, in position order, testing each row.
 * Stream prefixes are compared as ranges of text, so `%`, `_` and quotes in them are plain data.
 */
import { LOG_COLUMNS } from './events.js';

export interface LogQuery {
  /** Identifies the statement: queries with the same key differ only in parameters. */
  readonly key: string;
  readonly sql: string;
  /** The filter's parameters; the page's position and limit follow them. */
  readonly params: readonly string[];
}

export interface LogFilterInput {
  readonly eventTypes?: readonly string[] | undefined;
  readonly streamPrefixes?: readonly string[] | undefined;
}

// Events of tombstoned streams leave the log without leaving the table (their ids stay taken).
// The EXISTS is evaluated once per page and spares each row the lookup while no stream is
// tombstoned, the usual case (a page of 1,000 bench rows: 0.93 -> 0.87 µs per row fetched).
const TOMBSTONED = 'SELECT stream_id FROM streams WHERE tombstoned = 1';
const NOT_TOMBSTONED = `(NOT EXISTS (${TOMBSTONED}) OR stream_id NOT IN (${TOMBSTONED}))`;

/** `columns`: the SELECT list, `LOG_COLUMNS` unless a read asks for fewer (`field-rows.ts`). */
export function logQuery(filter: LogFilterInput | undefined, columns: string = LOG_COLUMNS): LogQuery {
  const types = [...new Set(filter?.eventTypes ?? [])];
  const prefixes = [...new Set(filter?.streamPrefixes ?? [])];
  const conditions: string[] = [];
  const params: string[] = [];
  let source = 'events';
  let access = 'log';

  const category = prefixes.length === 1 ? categoryOfPrefix(prefixes[0]!) : undefined;
  if (category !== undefined) {
    access = 'category';
    source = 'events INDEXED BY events_by_category';
    conditions.push('category = ?');
    params.push(category);
  } else if (types.length === 1) {
    access = 'type';
    source = 'events INDEXED BY events_by_type';
  } else if (types.length > 0 || prefixes.length > 0) {
    // Without this, SQLite may gather every match through an index and sort it, once per page.
    source = 'events NOT INDEXED';
  }

  if (types.length > 0) {
    conditions.push(types.length === 1 ? 'type = ?' : `type IN (${types.map(() => '?').join(', ')})`);
    params.push(...types);
  }
  const shapes: string[] = [];
  if (prefixes.length > 0) {
    const ranges: string[] = [];
    for (const prefix of prefixes) {
      const upper = successor(prefix);
      params.push(prefix);
      if (upper === undefined) {
        ranges.push('stream_id >= ?');
        shapes.push('o');
      } else {
        ranges.push('(stream_id >= ? AND stream_id < ?)');
        params.push(upper);
        shapes.push('r');
      }
    }
    conditions.push(ranges.length === 1 ? ranges[0]! : `(${ranges.join(' OR ')})`);
  }
  conditions.push('position >= ?', NOT_TOMBSTONED);
  const sql = `SELECT ${columns} FROM ${source}\nWHERE ${conditions.join('\n  AND ')}\nORDER BY position\nLIMIT ?`;
  const shape = `${access}/${types.length}/${shapes.join('')}`;
  return { key: columns === LOG_COLUMNS ? shape : `${shape}/${columns}`, sql, params };
}

/** `order-12` → `order`; undefined for a prefix without '-', which may span categories. */
function categoryOfPrefix(prefix: string): string | undefined {
  const dash = prefix.indexOf('-');
  return dash === -1 ? undefined : prefix.slice(0, dash);
}

const MAX_CODE_POINT = 0x10ffff;

/**
 * The least string greater than every string that starts with `prefix`, in SQLite's order of
 * text (the bytes of UTF-8, which is the order of code points); undefined when there is none.
 */
export function successor(prefix: string): string | undefined {
  const points = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (points.length > 0 && points.at(-1) === MAX_CODE_POINT) points.pop();
  if (points.length === 0) return undefined;
  let last = points.pop()! + 1;
  if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // surrogates are not characters
  points.push(last);
  return String.fromCodePoint(...points);
}
