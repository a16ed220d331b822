/**
 * The document API on `rm_documents`: jsonb by (namespace, collection, id), with `find` by field
 * equality. jsonb equality compares type and value, so `true` never matches `1` and `'1'` never
 * matches `1` — as in the other stores; `null` matches an explicit null and a missing field.
 */
import {
  assertCollectionName,
  assertDocumentId,
  filterEntries,
  InvalidArgumentError,
  normalizeLimit,
  serializeDocument,
  type AsyncDocumentCollection,
  type FieldFilter,
  type FieldValue,
  type FindOptions,
} from '@eventloom/core';
import type pg from 'pg';
import type { ReadModelQueries } from './sql.js';

/** Where a collection's statements run: the transaction's client, or the pool for readers. */
export interface DocumentTarget {
  readonly queries: ReadModelQueries;
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Throws when the transaction is over. */
  assertOpen(): void;
  /** False for readers. */
  readonly writable: boolean;
}

/** `WHERE` of a `find`/`count`: non-null fields by jsonb containment (one index-friendly test), nulls one by one. */
function whereClause(entries: readonly [string, FieldValue][], values: unknown[]): string {
  const conditions = ['namespace = $1', 'collection = $2'];
  const present: Record<string, FieldValue> = {};
  let any = false;
  for (const [field, value] of entries) {
    if (value === null) {
      values.push(field);
      conditions.push(`coalesce(jsonb_typeof(data -> $${values.length}::text), 'null') = 'null'`);
    } else {
      present[field] = value;
      any = true;
    }
  }
  if (any) {
    values.push(JSON.stringify(present));
    conditions.push(`data @> $${values.length}::jsonb`);
  }
  return conditions.join(' AND ');
}

export function postgresCollection<T extends object>(target: DocumentTarget, namespace: string, name: string): AsyncDocumentCollection<T> {
  assertCollectionName(name);
  const { queries } = target;
  const writer = (): void => {
    target.assertOpen();
    if (!target.writable) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
  };
  const load = async (id: string): Promise<T | null> => {
    const { rows } = await target.query<{ data: T }>(queries.getDocument, [namespace, name, id]);
    return rows[0]?.data ?? null;
  };
  const write = async (id: string, document: T): Promise<void> => {
    await target.query(queries.upsertDocument, [namespace, name, id, serializeDocument(name, id, document)]);
  };
  return {
    // async: bad input rejects rather than throws, like every other answer of this store.
    get: async (id) => {
      target.assertOpen();
      assertDocumentId(name, id);
      return load(id);
    },
    find: async (where?: FieldFilter<T>, options?: FindOptions) => {
      target.assertOpen();
      const entries = filterEntries(name, where);
      const limit = normalizeLimit(name, options);
      const values: unknown[] = [namespace, name];
      const clause = whereClause(entries, values);
      let sql = `SELECT data FROM ${queries.documents} WHERE ${clause} ORDER BY id`;
      if (limit !== undefined) {
        values.push(limit);
        sql += ` LIMIT $${values.length}`;
      }
      const { rows } = await target.query<{ data: T }>(sql, values);
      return rows.map((row) => row.data);
    },
    count: async (where?: FieldFilter<T>) => {
      target.assertOpen();
      const values: unknown[] = [namespace, name];
      const clause = whereClause(filterEntries(name, where), values);
      const { rows } = await target.query<{ count: string }>(`SELECT count(*) AS count FROM ${queries.documents} WHERE ${clause}`, values);
      return Number(rows[0]!.count);
    },
    upsert: async (id, document) => {
      writer();
      assertDocumentId(name, id);
      serializeDocument(name, id, document);
      await write(id, document);
    },
    update: async (id, change) => {
      writer();
      assertDocumentId(name, id);
      const current = await load(id);
      if (current === null) return false;
      await write(id, change(current));
      return true;
    },
    delete: async (id) => {
      writer();
      assertDocumentId(name, id);
      const { rowCount } = await target.query(queries.deleteDocument, [namespace, name, id]);
      return (rowCount ?? 0) > 0;
    },
  };
}
