/**
 * Core's query rule (packages/core/src/projections/query.ts) in SQL over `rm_documents`.
 *
 * A top-level field is two SQL values: its kind rank (null/missing 0, boolean 1, number 2, string
 * 3, array/object 4 — core's KIND_RANK) and its value within the kind (booleans 0/1, numbers,
 * strings compared BINARY, i.e. by UTF-8 bytes = code points; NULL for the kinds that all tie).
 * Conditions test the rank first, so `1` never equals `'1'` or `true`; ordering sorts by rank,
 * then value, for each `orderBy` field, then by id. A declared index is an expression index on
 * exactly these two expressions per field (then id), limited to its collection, so the planner
 * answers equality-prefix + orderBy queries from it without sorting.
 */
import { type FieldValue } from '@eventloom/core';
import {
  KIND_RANK,
  type CursorPosition,
  type NormalizedCondition,
  type NormalizedQuery,
} from '@eventloom/core/adapter';

export type SqlParam = string | number;

/** Field names are plain identifiers (core checks them), so they are safe in a JSON path literal. */
function path(field: string): string {
  return `'$."${field}"'`;
}

/** The kind rank of `field`, as core's KIND_RANK. */
export function rankSql(field: string): string {
  const p = path(field);
  return (
    `(CASE json_type(data, ${p}) WHEN 'true' THEN ${KIND_RANK.boolean} WHEN 'false' THEN ${KIND_RANK.boolean} ` +
    `WHEN 'integer' THEN ${KIND_RANK.number} WHEN 'real' THEN ${KIND_RANK.number} WHEN 'text' THEN ${KIND_RANK.string} ` +
    `WHEN 'array' THEN ${KIND_RANK.other} WHEN 'object' THEN ${KIND_RANK.other} ELSE ${KIND_RANK.null} END)`
  );
}

/** The value of `field` within its kind: true/false as 1/0; NULL for null, missing, arrays and objects (they tie). */
export function valueSql(field: string): string {
  const p = path(field);
  return `(CASE WHEN json_type(data, ${p}) IN ('array', 'object') THEN NULL ELSE json_extract(data, ${p}) END)`;
}

function rankOf(value: FieldValue): number {
  if (value === null) return KIND_RANK.null;
  if (typeof value === 'boolean') return KIND_RANK.boolean;
  if (typeof value === 'number') return KIND_RANK.number;
  return KIND_RANK.string;
}

/** The bound form of a scalar: booleans are 0/1 as json_extract gives them. */
function param(value: string | number | boolean): SqlParam {
  return typeof value === 'boolean' ? Number(value) : value;
}

/** Appends to `params` and returns SQL that holds when `field` equals `value` by the rule. */
function equals(field: string, value: FieldValue, params: SqlParam[]): string {
  const rank = rankOf(value);
  if (value === null) return `${rankSql(field)} = ${rank}`;
  params.push(param(value));
  return `(${rankSql(field)} = ${rank} AND ${valueSql(field)} = ?)`;
}

const RANGE = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

function conditionSql(condition: NormalizedCondition, params: SqlParam[]): string {
  const { field } = condition;
  switch (condition.op) {
    case 'eq':
      return equals(field, condition.value, params);
    case 'ne':
      return `NOT ${equals(field, condition.value, params)}`;
    case 'in': {
      if (condition.values.length === 0) return '0';
      // Grouped by kind, so an index on the field can answer each group with IN.
      const byRank = new Map<number, SqlParam[]>();
      for (const value of condition.values) {
        const rank = rankOf(value);
        let group = byRank.get(rank);
        if (!group) byRank.set(rank, (group = []));
        if (value !== null) group.push(param(value));
      }
      const alternatives: string[] = [];
      for (const [rank, values] of byRank) {
        if (rank === KIND_RANK.null) {
          alternatives.push(`${rankSql(field)} = ${rank}`);
        } else {
          params.push(...values);
          alternatives.push(`(${rankSql(field)} = ${rank} AND ${valueSql(field)} IN (${values.map(() => '?').join(', ')}))`);
        }
      }
      return `(${alternatives.join(' OR ')})`;
    }
    default:
      // A range bound matches values of its own kind only.
      params.push(param(condition.value));
      return `(${rankSql(field)} = ${rankOf(condition.value)} AND ${valueSql(field)} ${RANGE[condition.op]} ?)`;
  }
}

/** SQL that holds for documents strictly after `after` in the query's order (sort keys, then id). */
function afterSql(query: NormalizedQuery, after: CursorPosition, params: SqlParam[]): string {
  const alternatives: string[] = [];
  const equalSoFar: string[] = [];
  const equalParams: SqlParam[] = [];
  const later = (direction: 'asc' | 'desc'): string => (direction === 'desc' ? '<' : '>');
  query.orderBy.forEach((sort, i) => {
    const key = after.keys[i]!;
    const op = later(sort.direction);
    const rank = rankSql(sort.field);
    // Beyond on this field: a later kind, or the same kind and a later value (kinds without values all tie).
    const beyond = [`${rank} ${op} ${key.rank}`];
    const beyondParams: SqlParam[] = [];
    if (key.value !== null) {
      beyond.push(`(${rank} = ${key.rank} AND ${valueSql(sort.field)} ${op} ?)`);
      beyondParams.push(param(key.value));
    }
    alternatives.push(`(${[...equalSoFar, `(${beyond.join(' OR ')})`].join(' AND ')})`);
    params.push(...equalParams, ...beyondParams);
    if (key.value === null) {
      equalSoFar.push(`${rank} = ${key.rank}`);
    } else {
      equalSoFar.push(`(${rank} = ${key.rank} AND ${valueSql(sort.field)} = ?)`);
      equalParams.push(param(key.value));
    }
  });
  alternatives.push(`(${[...equalSoFar, `id ${later(query.idDirection)} ?`].join(' AND ')})`);
  params.push(...equalParams, after.id);
  return `(${alternatives.join(' OR ')})`;
}

/** Fields whose kind the conditions pin to one: every matching document has the same rank there. */
function fixedRanks(conditions: readonly NormalizedCondition[]): Set<string> {
  const fixed = new Set<string>();
  for (const condition of conditions) {
    if (condition.op === 'ne') continue;
    if (condition.op === 'in') {
      const ranks = new Set(condition.values.map(rankOf));
      if (ranks.size === 1) fixed.add(condition.field);
    } else {
      fixed.add(condition.field);
    }
  }
  return fixed;
}

/**
 * The SQL of `query` on one collection and its parameters. The namespace and collection are
 * written in as literals (both are checked names), as a partial index's WHERE must appear in the
 * query for the planner to use the index; statements are cached by the SQL text.
 */
export function querySql(
  kind: 'find' | 'count',
  namespace: string,
  collection: string,
  query: NormalizedQuery,
  limit: number | undefined,
): { readonly sql: string; readonly params: SqlParam[] } {
  const params: SqlParam[] = [];
  const where = [`namespace = ${literal(namespace)}`, `collection = ${literal(collection)}`];
  for (const condition of query.where) where.push(conditionSql(condition, params));
  if (query.after) where.push(afterSql(query, query.after, params));
  if (kind === 'count') return { sql: `SELECT count(*) FROM rm_documents WHERE ${where.join(' AND ')}`, params };
  const fixed = fixedRanks(query.where);
  const order = query.orderBy.flatMap((sort) => {
    const direction = sort.direction === 'desc' ? ' DESC' : '';
    const value = `${valueSql(sort.field)}${direction}`;
    // A rank the conditions fix is the same for every row: leaving it out changes no order, and
    // lets SQLite see that an index scan after a range is already in order (it does not otherwise).
    return fixed.has(sort.field) ? [value] : [`${rankSql(sort.field)}${direction}`, value];
  });
  order.push(`id${query.idDirection === 'desc' ? ' DESC' : ''}`);
  const sql = `SELECT id, data FROM rm_documents WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')}${limit === undefined ? '' : ' LIMIT ?'}`;
  if (limit !== undefined) params.push(limit);
  return { sql, params };
}

/** Text as a SQL string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export function quoteIdentifier(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The name of a declared index in SQLite: the namespace first, so dropping a namespace finds its indexes. */
export function indexName(namespace: string, collection: string, index: string): string {
  return `${namespace}/${collection}/${index}`;
}

/**
 * The expression index for `fields` of one collection of one namespace: rank and value of each
 * field, then id — the exact expressions `querySql` orders and filters by.
 */
export function createIndexSql(namespace: string, collection: string, index: string, fields: readonly string[]): string {
  const columns = [...fields.flatMap((field) => [rankSql(field), valueSql(field)]), 'id'];
  return (
    `CREATE INDEX ${quoteIdentifier(indexName(namespace, collection, index))} ON rm_documents (${columns.join(', ')}) ` +
    `WHERE namespace = ${literal(namespace)} AND collection = ${literal(collection)}`
  );
}
