/**
 * Queries on read-model documents: filters, ordering, limits and cursors, with the ONE comparison
 * rule every store follows. Stores validate a query with `normalizeQuery` (so each rejects the
 * same bad query with the same message) and compare with `compareValues`; the in-memory store
 * evaluates queries with `matchesWhere`/`compareDocuments`, and the SQL stores translate the
 * normalized form.
 *
 * The rule: a top-level field's value has a kind — missing or `null` (one kind: `null` matches a
 * missing field), boolean, number, string, or other (arrays and objects). Kinds order
 * null/missing < boolean < number < string < other. Within a kind: false < true; numbers by value;
 * strings by Unicode code point (byte order of UTF-8, as SQLite's BINARY and PostgreSQL's
 * COLLATE "C" compare); arrays and objects all tie (they are not comparable; ties are broken by
 * id). Equality (`eq`, `in`, a plain value) holds within a kind only, so `1` never matches `'1'`
 * or `true`. Range operators (`gt`, `gte`, `lt`, `lte`) match values of the bound's kind only: a
 * string bound never matches a number. `ne` is exactly "not `eq`": `{ ne: 'x' }` matches missing
 * fields and other kinds too. Documents are ordered by `orderBy`, then by id (by code point), the
 * id in the direction of the last `orderBy` entry (ascending when there is none).
 */
import { InvalidArgumentError } from '../envelope/errors.js';

/** A value a filter compares with. */
export type FieldValue = string | number | boolean | null;

/** A document of a collection used without a type. */
export type { JsonObject } from '../envelope/event.js';

/** The top-level fields of `T` a query can name. */
export type QueryField<T> = Extract<keyof T, string>;

/** The scalar kinds the field `K` of `T` can hold. */
type ScalarOf<T, K extends keyof T> = Extract<T[K], FieldValue>;

/** Operators on one field; several in one object must all hold. */
export interface FieldOperators<V extends FieldValue> {
  readonly eq?: V | null;
  readonly ne?: V | null;
  readonly gt?: Exclude<V, null>;
  readonly gte?: Exclude<V, null>;
  readonly lt?: Exclude<V, null>;
  readonly lte?: Exclude<V, null>;
  /** Any of these values (an empty list matches nothing). */
  readonly in?: readonly (V | null)[];
}

/** A plain value (equality; `null` also matches a missing field) or an operator object. */
export type FieldCondition<V extends FieldValue> = V | null | FieldOperators<V>;

/** Conditions on top-level fields of `T`; every given field must match. */
export type Where<T> = { readonly [K in QueryField<T>]?: FieldCondition<ScalarOf<T, K>> };

export type SortDirection = 'asc' | 'desc';

/** Sort keys, most significant first: a field name (ascending) or `[field, direction]`. */
export type OrderBy<T> = readonly (QueryField<T> | readonly [QueryField<T>, SortDirection?])[];

export interface FindQuery<T> {
  readonly where?: Where<T>;
  readonly orderBy?: OrderBy<T>;
  /** At most this many documents (1 to `MAX_QUERY_LIMIT`). Default: all for `find`, `DEFAULT_PAGE_SIZE` for `findPage`. */
  readonly limit?: number;
}

export interface PageQuery<T> extends FindQuery<T> {
  /** The `next` of the previous page; absent or `null` for the first page. Only valid with the same `where` and `orderBy`. */
  readonly after?: string | null;
}

export interface Page<T> {
  readonly documents: T[];
  /** The cursor of the next page, or `null` when this is the last one. */
  readonly next: string | null;
}

export const MAX_QUERY_LIMIT = 10_000;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_FIELD_NAME_LENGTH = 100;
/** Most conditions and sort keys in one query: keeps the SQL the stores build bounded. */
export const MAX_QUERY_TERMS = 32;
/** Most values in one `in`. */
export const MAX_IN_VALUES = 1_000;

const FIELD_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const OPERATORS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in']);

/** The kinds of the comparison rule, in their order. */
export const KIND_RANK = { null: 0, boolean: 1, number: 2, string: 3, other: 4 } as const;
export type KindRank = (typeof KIND_RANK)[keyof typeof KIND_RANK];

/** One condition of a normalized query, on one field. Values are never `undefined`. */
export type NormalizedCondition =
  | { readonly field: string; readonly op: 'eq' | 'ne'; readonly value: FieldValue }
  | { readonly field: string; readonly op: 'gt' | 'gte' | 'lt' | 'lte'; readonly value: string | number | boolean }
  | { readonly field: string; readonly op: 'in'; readonly values: readonly FieldValue[] };

export interface NormalizedSort {
  readonly field: string;
  readonly direction: SortDirection;
}

/** Where a page starts: just after the document with these sort keys and id. */
export interface CursorPosition {
  /** One per `orderBy` entry: the kind rank and (for scalars) the value of the last document's field. */
  readonly keys: readonly SortKey[];
  readonly id: string;
}

/** A field value as the rule sees it: its kind rank, and its value for the scalar kinds (`null` otherwise). */
export interface SortKey {
  readonly rank: KindRank;
  readonly value: string | number | boolean | null;
}

export interface NormalizedQuery {
  /** Conditions, all of which must hold. */
  readonly where: readonly NormalizedCondition[];
  readonly orderBy: readonly NormalizedSort[];
  /** The direction of the id tie-breaker: that of the last `orderBy` entry, else ascending. */
  readonly idDirection: SortDirection;
  readonly limit: number | undefined;
  readonly after: CursorPosition | null;
  /** Identifies `where` + `orderBy`; a cursor carries it so it is refused by another query. */
  readonly fingerprint: string;
}

/**
 * Validates `query` (of `find`, `findPage` or `count`) and returns it in normalized form.
 * `kind` says which: `page` requires a limit (default `DEFAULT_PAGE_SIZE`) and reads `after`;
 * `count` takes only `where`.
 * @throws InvalidArgumentError naming the bad part
 */
export function normalizeQuery(collection: string, query: unknown, kind: 'find' | 'page' | 'count' = 'find'): NormalizedQuery {
  const part = (what: string): string => `${what} in ${kind === 'page' ? 'findPage' : kind} on ${collection}`;
  if (query === undefined) query = {};
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw new InvalidArgumentError(part('query'), kind === 'count' ? 'must be an object of field conditions' : 'must be an object { where, orderBy, limit }');
  }
  const given = query as Record<string, unknown>;
  let whereInput: unknown;
  let orderInput: unknown;
  let limitInput: unknown;
  let afterInput: unknown;
  if (kind === 'count') {
    const where = given['where'];
    if (where !== null && typeof where === 'object' && !Array.isArray(where) && Object.keys(where).some((key) => !OPERATORS.has(key))) {
      throw new InvalidArgumentError(part('where'), 'count takes the conditions themselves, count({ field: condition }), not count({ where })');
    }
    whereInput = given;
  } else {
    for (const key of Object.keys(given)) {
      const allowed = key === 'where' || key === 'orderBy' || key === 'limit' || (kind === 'page' && key === 'after');
      if (!allowed) {
        throw new InvalidArgumentError(
          part(`query key ${JSON.stringify(key)}`),
          `is not known; a query has ${kind === 'page' ? 'where, orderBy, limit and after' : 'where, orderBy and limit'} (filter fields go inside where)`,
        );
      }
    }
    whereInput = given['where'];
    orderInput = given['orderBy'];
    limitInput = given['limit'];
    afterInput = given['after'];
  }
  const where = normalizeWhere(whereInput, part);
  const orderBy = normalizeOrderBy(orderInput, part);
  if (where.length + orderBy.length > MAX_QUERY_TERMS) {
    throw new InvalidArgumentError(part('query'), `has ${where.length + orderBy.length} conditions and sort keys; at most ${MAX_QUERY_TERMS} are allowed`);
  }
  let limit: number | undefined;
  if (limitInput !== undefined) {
    if (typeof limitInput !== 'number' || !Number.isSafeInteger(limitInput) || limitInput < 1 || limitInput > MAX_QUERY_LIMIT) {
      throw new InvalidArgumentError(part('limit'), `must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${describe(limitInput)}`);
    }
    limit = limitInput;
  } else if (kind === 'page') {
    limit = DEFAULT_PAGE_SIZE;
  }
  const idDirection = orderBy.at(-1)?.direction ?? 'asc';
  const fingerprint = fingerprintOf(where, orderBy);
  let after: CursorPosition | null = null;
  if (kind === 'page' && afterInput !== undefined && afterInput !== null) {
    after = decodeCursor(afterInput, fingerprint, orderBy.length, part('after'));
  }
  return { where, orderBy, idDirection, limit, after, fingerprint };
}

function normalizeWhere(input: unknown, part: (what: string) => string): NormalizedCondition[] {
  if (input === undefined) return [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidArgumentError(part('where'), 'must be an object of field: condition pairs');
  }
  const conditions: NormalizedCondition[] = [];
  for (const [field, condition] of Object.entries(input)) {
    if (condition === undefined) continue;
    assertField(field, part(`where field ${JSON.stringify(field)}`));
    const at = (what: string): string => part(`where.${field}${what}`);
    if (condition === null || typeof condition !== 'object') {
      conditions.push({ field, op: 'eq', value: scalar(condition, at('')) });
      continue;
    }
    if (Array.isArray(condition)) {
      throw new InvalidArgumentError(at(''), 'must be a value or an operator object such as { in: [...] }; an array is neither');
    }
    const operators = Object.entries(condition).filter(([, value]) => value !== undefined);
    if (operators.length === 0) {
      throw new InvalidArgumentError(at(''), 'is an operator object without operators; use eq, ne, gt, gte, lt, lte or in');
    }
    for (const [op, value] of operators) {
      if (!OPERATORS.has(op)) {
        throw new InvalidArgumentError(at(`.${op}`), `is not an operator; use eq, ne, gt, gte, lt, lte or in (fields of nested objects cannot be queried)`);
      }
      if (op === 'in') {
        if (!Array.isArray(value)) throw new InvalidArgumentError(at('.in'), `must be an array of values, got ${describe(value)}`);
        if (value.length > MAX_IN_VALUES) throw new InvalidArgumentError(at('.in'), `has ${value.length} values; at most ${MAX_IN_VALUES} are allowed`);
        conditions.push({ field, op: 'in', values: value.map((v: unknown, i: number) => scalar(v, at(`.in[${i}]`))) });
      } else if (op === 'eq' || op === 'ne') {
        conditions.push({ field, op, value: scalar(value, at(`.${op}`)) });
      } else {
        const bound = scalar(value, at(`.${op}`));
        if (bound === null) {
          throw new InvalidArgumentError(at(`.${op}`), 'must be a string, finite number or boolean; null has no order within its kind (use eq/ne null)');
        }
        conditions.push({ field, op: op as 'gt' | 'gte' | 'lt' | 'lte', value: bound });
      }
    }
  }
  return conditions;
}

function normalizeOrderBy(input: unknown, part: (what: string) => string): NormalizedSort[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) {
    throw new InvalidArgumentError(part('orderBy'), `must be an array of field names or [field, 'asc' | 'desc'] pairs, got ${describe(input)}`);
  }
  const sorts: NormalizedSort[] = [];
  const seen = new Set<string>();
  input.forEach((entry: unknown, i: number) => {
    const at = part(`orderBy[${i}]`);
    let field: unknown = entry;
    let direction: unknown = 'asc';
    if (Array.isArray(entry)) {
      if (entry.length < 1 || entry.length > 2) throw new InvalidArgumentError(at, `must be [field, 'asc' | 'desc'], got ${entry.length} items`);
      field = entry[0];
      direction = entry[1] ?? 'asc';
    }
    if (typeof field !== 'string') throw new InvalidArgumentError(at, `must name a field, got ${describe(field)}`);
    assertField(field, at);
    if (direction !== 'asc' && direction !== 'desc') throw new InvalidArgumentError(at, `direction must be 'asc' or 'desc', got ${describe(direction)}`);
    if (seen.has(field)) throw new InvalidArgumentError(at, `orders by ${field} a second time`);
    seen.add(field);
    sorts.push({ field, direction });
  });
  return sorts;
}

/** Field names are plain identifiers: top-level fields only, safe in every store's JSON paths. */
export function assertField(field: string, argument: string): void {
  if (field.length === 0 || field.length > MAX_FIELD_NAME_LENGTH || !FIELD_PATTERN.test(field)) {
    throw new InvalidArgumentError(
      argument,
      `must be a plain identifier of at most ${MAX_FIELD_NAME_LENGTH} characters (letters, digits, '_', '$'; top-level fields only), got ${JSON.stringify(field)}`,
    );
  }
}

function scalar(value: unknown, argument: string): FieldValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    if (typeof value === 'string') assertWellFormed(value, argument);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(argument, `must be a finite number, got ${value}`);
    // -0 and 0 are one JSON number.
    return value === 0 ? 0 : value;
  }
  throw new InvalidArgumentError(argument, `must be a string, finite number, boolean or null, got ${describe(value)}`);
}

/** Lone surrogates cannot be stored as UTF-8 (SQLite, PostgreSQL), so no store could match them. */
function assertWellFormed(text: string, argument: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) throw new InvalidArgumentError(argument, 'must not contain U+0000 (PostgreSQL cannot store it)');
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      throw new InvalidArgumentError(argument, `has half a surrogate pair at index ${i}`);
    }
    if (c >= 0xdc00 && c <= 0xdfff) throw new InvalidArgumentError(argument, `has half a surrogate pair at index ${i}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

// ---- The comparison rule -------------------------------------------------------------------

/** The kind rank and comparable value of a field's value (`undefined` = missing). */
export function sortKey(value: unknown): SortKey {
  if (value === null || value === undefined) return { rank: KIND_RANK.null, value: null };
  if (typeof value === 'boolean') return { rank: KIND_RANK.boolean, value };
  if (typeof value === 'number') return { rank: KIND_RANK.number, value: value === 0 ? 0 : value };
  if (typeof value === 'string') return { rank: KIND_RANK.string, value };
  return { rank: KIND_RANK.other, value: null };
}

/** Orders two field values by the rule: negative, zero or positive. */
export function compareValues(a: unknown, b: unknown): number {
  return compareSortKeys(sortKey(a), sortKey(b));
}

export function compareSortKeys(a: SortKey, b: SortKey): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  switch (a.rank) {
    case KIND_RANK.boolean:
      return Number(a.value) - Number(b.value);
    case KIND_RANK.number:
      return (a.value as number) < (b.value as number) ? -1 : (a.value as number) > (b.value as number) ? 1 : 0;
    case KIND_RANK.string:
      return compareCodePoints(a.value as string, b.value as string);
    default:
      return 0;
  }
}

/**
 * Compares strings by Unicode code point — what UTF-8 byte order gives — rather than by UTF-16
 * code unit as JavaScript's `<` does (they differ between U+E000–U+FFFF and the astral planes).
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort above U+E000–U+FFFF: shift both ranges so they do.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function fieldOf(document: object, field: string): unknown {
  return Object.hasOwn(document, field) ? (document as Record<string, unknown>)[field] : undefined;
}

function equalTo(actual: unknown, value: FieldValue): boolean {
  const key = sortKey(actual);
  return key.rank !== KIND_RANK.other && compareSortKeys(key, sortKey(value)) === 0;
}

/** Whether `document` satisfies every condition, by the rule. */
export function matchesWhere(document: object, conditions: readonly NormalizedCondition[]): boolean {
  for (const condition of conditions) {
    const actual = fieldOf(document, condition.field);
    switch (condition.op) {
      case 'eq':
        if (!equalTo(actual, condition.value)) return false;
        break;
      case 'ne':
        if (equalTo(actual, condition.value)) return false;
        break;
      case 'in':
        if (!condition.values.some((value) => equalTo(actual, value))) return false;
        break;
      default: {
        const a = sortKey(actual);
        const bound = sortKey(condition.value);
        if (a.rank !== bound.rank) return false;
        const c = compareSortKeys(a, bound);
        const ok = condition.op === 'gt' ? c > 0 : condition.op === 'gte' ? c >= 0 : condition.op === 'lt' ? c < 0 : c <= 0;
        if (!ok) return false;
      }
    }
  }
  return true;
}

/** The position of `document` in the order of `query`, as a cursor position. */
export function positionOf(query: Pick<NormalizedQuery, 'orderBy'>, id: string, document: object): CursorPosition {
  return { keys: query.orderBy.map((sort) => sortKey(fieldOf(document, sort.field))), id };
}

/** Compares two positions in the order of `query` (sort keys, then id). */
export function comparePositions(query: Pick<NormalizedQuery, 'orderBy' | 'idDirection'>, a: CursorPosition, b: CursorPosition): number {
  for (let i = 0; i < query.orderBy.length; i++) {
    const c = compareSortKeys(a.keys[i]!, b.keys[i]!);
    if (c !== 0) return query.orderBy[i]!.direction === 'desc' ? -c : c;
  }
  const c = compareCodePoints(a.id, b.id);
  return query.idDirection === 'desc' ? -c : c;
}

/**
 * Evaluates a normalized query over `[id, document]` entries in memory: filter, order, seek past
 * the cursor, limit. Returns the documents and the cursor of the next page.
 */
export function evaluateQuery<T extends object>(
  query: NormalizedQuery,
  entries: Iterable<readonly [string, T]>,
): { documents: T[]; next: string | null } {
  const matching: { position: CursorPosition; document: T }[] = [];
  for (const [id, document] of entries) {
    if (!matchesWhere(document, query.where)) continue;
    const position = positionOf(query, id, document);
    if (query.after && comparePositions(query, position, query.after) <= 0) continue;
    matching.push({ position, document });
  }
  matching.sort((a, b) => comparePositions(query, a.position, b.position));
  const limit = query.limit ?? matching.length;
  const page = matching.slice(0, limit);
  const next = matching.length > limit && page.length > 0 ? encodeCursor(query, page.at(-1)!.position) : null;
  return { documents: page.map((m) => m.document), next };
}

// ---- Cursors -------------------------------------------------------------------------------

const CURSOR_VERSION = 1;

/** An opaque cursor: the position of the last document of a page and the query it belongs to. */
export function encodeCursor(query: Pick<NormalizedQuery, 'fingerprint'>, position: CursorPosition): string {
  const body = JSON.stringify([CURSOR_VERSION, query.fingerprint, position.keys.map((k) => [k.rank, k.value]), position.id]);
  return Buffer.from(body, 'utf8').toString('base64url');
}

function decodeCursor(input: unknown, fingerprint: string, keyCount: number, argument: string): CursorPosition {
  const invalid = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(argument, `is not a cursor of this query (${why}); pass the next of a page of the same where and orderBy`);
  if (typeof input !== 'string' || input.length === 0 || input.length > 64_000) throw invalid('not a cursor string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(input, 'base64url').toString('utf8'));
  } catch {
    throw invalid('unreadable');
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== CURSOR_VERSION) throw invalid('unreadable');
  const [, print, keys, id] = parsed as [unknown, unknown, unknown, unknown];
  if (print !== fingerprint) throw invalid('it belongs to another query');
  if (typeof id !== 'string' || !Array.isArray(keys) || keys.length !== keyCount) throw invalid('unreadable');
  const sortKeys = keys.map((key: unknown): SortKey => {
    if (!Array.isArray(key) || key.length !== 2) throw invalid('unreadable');
    const [rank, value] = key as [unknown, unknown];
    const expected = sortKey(value);
    const valid =
      (rank === KIND_RANK.other && value === null) || (rank === expected.rank && (rank !== KIND_RANK.number || Number.isFinite(value)));
    if (!valid) throw invalid('unreadable');
    return { rank: rank as KindRank, value: value as SortKey['value'] };
  });
  return { keys: sortKeys, id };
}

/** A short, stable digest of the query's shape and values (FNV-1a over its canonical JSON). */
function fingerprintOf(where: readonly NormalizedCondition[], orderBy: readonly NormalizedSort[]): string {
  const text = JSON.stringify([where.map((c) => ('values' in c ? [c.field, c.op, c.values] : [c.field, c.op, c.value])), orderBy.map((s) => [s.field, s.direction])]);
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & mask;
  }
  return hash.toString(36);
}
