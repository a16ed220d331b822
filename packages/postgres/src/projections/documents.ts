/**
 * The document API on `rm_documents`: jsonb by (namespace, collection, id), with queries by core's
 * comparison rule (validated by core's `normalizeQuery`, translated in `query-sql.ts`).
 */
import {
  assertDocumentId,
  collectionName,
  encodeCursor,
  InvalidArgumentError,
  normalizeQuery,
  positionOf,
  serializeDocument,
  type CollectionRef,
  type DocumentCollection,
  type NormalizedQuery,
} from '@eventloom/core';
import type pg from 'pg';
import { countSql, selectSql } from './query-sql.js';
import type { ReadModelQueries } from './sql.js';

/** Where a collection's statements run: the transaction's client, or the pool for readers. */
export interface DocumentTarget {
  readonly queries: ReadModelQueries;
  /** The quoted schema. */
  readonly s: string;
  readonly tenantId: string;
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Throws when the transaction is over. */
  assertOpen(): void;
  /** False for readers. */
  readonly writable: boolean;
}

export function postgresCollection<T extends object>(target: DocumentTarget, namespace: string, ref: CollectionRef<T>): DocumentCollection<T> {
  const name = collectionName(ref);
  const { queries } = target;
  const scope = { s: target.s, tenantId: target.tenantId, namespace, collection: name };
  const writer = (): void => {
    target.assertOpen();
    if (!target.writable) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
  };
  const load = async (id: string): Promise<T | null> => {
    const { rows } = await target.query<{ data: T }>(queries.getDocument, [namespace, name, id]);
    return rows[0]?.data ?? null;
  };
  const write = async (id: string, json: string): Promise<void> => {
    await target.query(queries.upsertDocument, [namespace, name, id, json]);
  };
  const run = async (query: NormalizedQuery, extra: number): Promise<{ id: string; data: T }[]> => {
    const { text, values } = selectSql(scope, query, extra);
    return (await target.query<{ id: string; data: T }>(text, values)).rows;
  };
  return {
    // async: bad input rejects rather than throws, like every other answer of this store.
    get: async (id) => {
      target.assertOpen();
      assertDocumentId(name, id);
      return load(id);
    },
    find: async (query) => {
      target.assertOpen();
      return (await run(normalizeQuery(name, query, 'find'), 0)).map((row) => row.data);
    },
    findPage: async (query) => {
      target.assertOpen();
      const normalized = normalizeQuery(name, query, 'page');
      const limit = normalized.limit!;
      const rows = await run(normalized, 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const next = rows.length > limit && last ? encodeCursor(normalized, positionOf(normalized, last.id, last.data)) : null;
      return { documents: page.map((row) => row.data), next };
    },
    count: async (where) => {
      target.assertOpen();
      const { text, values } = countSql(scope, normalizeQuery(name, where, 'count'));
      const { rows } = await target.query<{ count: string }>(text, values);
      return Number(rows[0]!.count);
    },
    upsert: async (id, document) => {
      writer();
      assertDocumentId(name, id);
      await write(id, serializeDocument(name, id, document));
    },
    update: async (id, change) => {
      writer();
      assertDocumentId(name, id);
      const current = await load(id);
      if (current === null) return false;
      await write(id, serializeDocument(name, id, change(current)));
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
