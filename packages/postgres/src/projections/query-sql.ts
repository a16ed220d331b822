/**
 * A normalized query (core's `normalizeQuery`) as SQL on `rm_documents`, by core's comparison
 * rule: each field is its kind, number and string expressions (see `index-sql.ts`), written
 * exactly as the declared indexes are, so that PostgreSQL matches them. The tenant, namespace and
 * collection are literals, so that the partial index of the collection is provably usable.
 */
import type { FieldValue } from '@eventloom/core';
import type {
  CursorPosition,
  NormalizedCondition,
  NormalizedQuery,
  NormalizedSort,
  SortKey,
} from '@eventloom/core/adapter';
import { fieldExpressions, SQL_KIND } from './index-sql.js';

export interface QueryScope {
  /** The quoted schema. */
  readonly s: string;
  readonly tenantId: string;
  readonly namespace: string;
  readonly collection: string;
}

/** A string literal for SQL text (standard-conforming or not). */
export function sqlLiteral(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** The three column values of a scalar, by the rule. */
function columnsOf(value: FieldValue): { kind: number; num: number; str: string } {
  if (value === null) return { kind: SQL_KIND.null, num: 0, str: '' };
  if (typeof value === 'boolean') return { kind: SQL_KIND.boolean, num: value ? 1 : 0, str: '' };
  if (typeof value === 'number') return { kind: SQL_KIND.number, num: value, str: '' };
  return { kind: SQL_KIND.string, num: 0, str: value };
}

function sortColumns(key: SortKey): { kind: number; num: number; str: string } {
  if (key.rank === SQL_KIND.other) return { kind: SQL_KIND.other, num: 0, str: '' };
  return columnsOf(key.value);
}

class Builder {
  readonly values: unknown[] = [];
  constructor(readonly scope: QueryScope) {}

  param(value: unknown, type: 'float8' | 'text' | 'integer'): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }

  equal(field: string, value: FieldValue): string {
    const e = fieldExpressions(this.scope.s, field);
    const c = columnsOf(value);
    return `(${e.kind} = ${c.kind} AND ${e.num} = ${this.param(c.num, 'float8')} AND ${e.str} = ${this.param(c.str, 'text')})`;
  }

  condition(condition: NormalizedCondition): string {
    const e = fieldExpressions(this.scope.s, condition.field);
    switch (condition.op) {
      case 'eq':
        return this.equal(condition.field, condition.value);
      case 'ne':
        return `NOT ${this.equal(condition.field, condition.value)}`;
      case 'in':
        return condition.values.length === 0 ? 'false' : `(${condition.values.map((v) => this.equal(condition.field, v)).join(' OR ')})`;
      default: {
        const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[condition.op];
        const c = columnsOf(condition.value);
        // Only values of the bound's kind match; strings keep num 0, so the index range is on str.
        return c.kind === SQL_KIND.string
          ? `(${e.kind} = ${c.kind} AND ${e.num} = 0 AND ${e.str} ${op} ${this.param(c.str, 'text')})`
          : `(${e.kind} = ${c.kind} AND ${e.num} ${op} ${this.param(c.num, 'float8')})`;
      }
    }
  }

  /** Documents strictly after `after` in the query's order. */
  seek(orderBy: readonly NormalizedSort[], idDirection: 'asc' | 'desc', after: CursorPosition): string {
    const terms: { expr: string; value: string; desc: boolean }[] = [];
    orderBy.forEach((sort, i) => {
      const e = fieldExpressions(this.scope.s, sort.field);
      const c = sortColumns(after.keys[i]!);
      const desc = sort.direction === 'desc';
      terms.push({ expr: e.kind, value: this.param(c.kind, 'integer'), desc });
      terms.push({ expr: e.num, value: this.param(c.num, 'float8'), desc });
      terms.push({ expr: e.str, value: this.param(c.str, 'text'), desc });
    });
    terms.push({ expr: 'id', value: this.param(after.id, 'text'), desc: idDirection === 'desc' });
    if (terms.every((t) => t.desc === terms[0]!.desc)) {
      // One direction: a row comparison, which an index scan can start from.
      return `(${terms.map((t) => t.expr).join(', ')}) ${terms[0]!.desc ? '<' : '>'} (${terms.map((t) => t.value).join(', ')})`;
    }
    const ors: string[] = [];
    for (let i = 0; i < terms.length; i++) {
      const equal = terms.slice(0, i).map((t) => `${t.expr} = ${t.value}`);
      const t = terms[i]!;
      ors.push([...equal, `${t.expr} ${t.desc ? '<' : '>'} ${t.value}`].join(' AND '));
    }
    return `(${ors.map((o) => `(${o})`).join(' OR ')})`;
  }
}

/** The `FROM … WHERE …` of a query (without ordering), and its parameters. */
function whereOf(builder: Builder, query: Pick<NormalizedQuery, 'where'>): string {
  const { s, tenantId, namespace, collection } = builder.scope;
  const conditions = [
    `tenant_id = ${sqlLiteral(tenantId)}`,
    `namespace = ${sqlLiteral(namespace)}`,
    `collection = ${sqlLiteral(collection)}`,
    ...query.where.map((c) => builder.condition(c)),
  ];
  return `FROM ${s}.rm_documents WHERE ${conditions.join(' AND ')}`;
}

/** `find`/`findPage`: ids and documents in order; `extra` more rows than the limit (1 to learn whether a next page exists). */
export function selectSql(scope: QueryScope, query: NormalizedQuery, extra = 0): { text: string; values: unknown[] } {
  const builder = new Builder(scope);
  let text = `SELECT id, data ${whereOf(builder, query)}`;
  if (query.after) text += ` AND ${builder.seek(query.orderBy, query.idDirection, query.after)}`;
  const order: string[] = [];
  for (const sort of query.orderBy) {
    const e = fieldExpressions(scope.s, sort.field);
    const dir = sort.direction === 'desc' ? ' DESC' : '';
    order.push(`${e.kind}${dir}`, `${e.num}${dir}`, `${e.str}${dir}`);
  }
  order.push(`id${query.idDirection === 'desc' ? ' DESC' : ''}`);
  text += ` ORDER BY ${order.join(', ')}`;
  if (query.limit !== undefined) text += ` LIMIT ${query.limit + extra}`;
  return { text, values: builder.values };
}

export function countSql(scope: QueryScope, query: Pick<NormalizedQuery, 'where'>): { text: string; values: unknown[] } {
  const builder = new Builder(scope);
  return { text: `SELECT count(*) AS count ${whereOf(builder, query)}`, values: builder.values };
}
