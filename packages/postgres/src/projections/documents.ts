/**
 * The document API on `rm_documents`: jsonb by (namespace, collection, id), with queries by core's
 * comparison rule (validated by core's `normalizeQuery`, translated in `query-sql.ts`).
 */
import { InvalidArgumentError, type CollectionRef, type DocumentCollection } from '@eventloom/core';
import {
  assertDocumentId,
  collectionName,
  encodeCursor,
  normalizeQuery,
  positionOf,
  serializeDocument,
  type NormalizedQuery,
} from '@eventloom/core/adapter';
import { createHash } from 'node:crypto';
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
  /** Where upserts wait to go in one statement (`WriteBehind`); absent: each is sent at once. */
  readonly writeBehind?: WriteBehind;
}

/** Held-back upserts failed when sent: whichever event's handler was running then, the fault may be an earlier one's. */
export class HeldBackWriteFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('document upserts held back in this transaction failed when sent');
  }
}

/**
 * Upserts held back and sent together, in one statement, before the next read of their collection
 * by the document API and at the end of the transaction: a handler upserting on every event costs
 * one round trip per batch instead of one per event, and reads still see the transaction's own
 * writes. Deletes and reads go at once (a delete answers whether the document was there). Plain
 * SQL of the handler's own on the documents' table does not see what is held back.
 */
export class WriteBehind {
  /** By namespace and collection (joined by U+0000, which neither holds), then by id: the last upsert of an id wins. */
  readonly #pending = new Map<string, Map<string, string>>();
  readonly #client: pg.ClientBase;
  readonly #statement: { readonly name: string; readonly text: string };

  /** `client`: the transaction's; `s`: the quoted schema. */
  constructor(client: pg.ClientBase, s: string) {
    this.#client = client;
    const text = `INSERT INTO ${s}.rm_documents (namespace, collection, id, data)
      SELECT u.namespace, u.collection, u.id, u.data::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(namespace, collection, id, data)
      ON CONFLICT (tenant_id, namespace, collection, id) DO UPDATE SET data = excluded.data`;
    // Prepared once per connection: sent once per group of appends, planning it each time would cost more than running it.
    this.#statement = { name: `el_rm_upserts_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
  }

  defer(namespace: string, collection: string, id: string, json: string): void {
    const key = `${namespace}\u0000${collection}`;
    let documents = this.#pending.get(key);
    if (!documents) this.#pending.set(key, (documents = new Map()));
    documents.set(id, json);
  }

  /** Sends what is held back for one collection, or (no arguments) for all. */
  async flush(namespace?: string, collection?: string): Promise<void> {
    const keys = namespace === undefined ? [...this.#pending.keys()] : [`${namespace}\u0000${collection}`];
    const namespaces: string[] = [];
    const collections: string[] = [];
    const ids: string[] = [];
    const data: string[] = [];
    for (const key of keys) {
      const documents = this.#pending.get(key);
      if (!documents) continue;
      this.#pending.delete(key);
      const at = key.indexOf('\u0000');
      for (const [id, json] of documents) {
        namespaces.push(key.slice(0, at));
        collections.push(key.slice(at + 1));
        ids.push(id);
        data.push(json);
      }
    }
    if (ids.length === 0) return;
    try {
      await this.#client.query({ ...this.#statement, values: [namespaces, collections, ids, data] });
    } catch (error) {
      throw new HeldBackWriteFailure(error);
    }
  }
}

export function postgresCollection<T extends object>(target: DocumentTarget, namespace: string, ref: CollectionRef<T>): DocumentCollection<T> {
  const name = collectionName(ref);
  const { queries } = target;
  const scope = { s: target.s, tenantId: target.tenantId, namespace, collection: name };
  const writer = (): void => {
    target.assertOpen();
    if (!target.writable) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
  };
  const { writeBehind } = target;
  // Before anything reads the collection: it sees the transaction's own writes.
  const settle = async (): Promise<void> => {
    if (writeBehind) await writeBehind.flush(namespace, name);
  };
  const load = async (id: string): Promise<T | null> => {
    await settle();
    const { rows } = await target.query<{ data: T }>(queries.getDocument, [namespace, name, id]);
    return rows[0]?.data ?? null;
  };
  const write = async (id: string, json: string): Promise<void> => {
    if (writeBehind) writeBehind.defer(namespace, name, id, json);
    else await target.query(queries.upsertDocument, [namespace, name, id, json]);
  };
  const run = async (query: NormalizedQuery, extra: number): Promise<{ id: string; data: T }[]> => {
    await settle();
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
      await settle();
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
      await settle();
      const { rowCount } = await target.query(queries.deleteDocument, [namespace, name, id]);
      return (rowCount ?? 0) > 0;
    },
  };
}
