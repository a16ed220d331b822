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
 * Past this many held-back documents a transaction sends them (and forgets them): bounds the
 * memory of one transaction and the size of one statement.
 */
export const MAX_HELD_BACK = 10_000;

/**
 * Document writes held back and sent together, in one statement, before the next query of their
 * collection by the document API and at the end of the transaction: a handler writing on every
 * event costs one round trip per batch instead of one (an upsert) or two (an update) per event.
 * `get` and `update` of a held-back id are answered from what is held (its JSON, parsed afresh),
 * with no round trip; a `delete` of one is held too (it knows the answer). A `delete` or a `get`
 * of an id not held goes at once. Plain SQL of the handler's own on the documents' table does not
 * see what is held back.
 */
export class WriteBehind {
  /** By namespace and collection (joined by U+0000, which neither holds), then by id: the JSON, or `null` for a delete; the last write of an id wins. */
  readonly #pending = new Map<string, Map<string, string | null>>();
  #size = 0;
  readonly #client: pg.ClientBase;
  readonly #upserts: { readonly name: string; readonly text: string };
  readonly #writes: { readonly name: string; readonly text: string };
  readonly #failure: (cause: unknown) => unknown;

  /** `client`: the transaction's; `s`: the quoted schema; `failure`: what a refused send throws, made from the driver's error. */
  constructor(client: pg.ClientBase, s: string, failure: (cause: unknown) => unknown = (cause) => new HeldBackWriteFailure(cause)) {
    this.#client = client;
    this.#failure = failure;
    const upserts = `INSERT INTO ${s}.rm_documents (namespace, collection, id, data)
      SELECT u.namespace, u.collection, u.id, u.data::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(namespace, collection, id, data)
      ON CONFLICT (tenant_id, namespace, collection, id) DO UPDATE SET data = excluded.data`;
    // Deletes and upserts never name the same document (one entry per id), so one statement may run both.
    const writes = `WITH gone AS (
        DELETE FROM ${s}.rm_documents d USING unnest($5::text[], $6::text[], $7::text[]) AS x(namespace, collection, id)
        WHERE d.namespace = x.namespace AND d.collection = x.collection AND d.id = x.id)
      ${upserts}`;
    // Prepared once per connection: sent once per batch, planning it each time would cost more than running it.
    this.#upserts = { name: preparedName('upserts', upserts), text: upserts };
    this.#writes = { name: preparedName('writes', writes), text: writes };
  }

  /** The held-back JSON of a document, `null` when its delete is held, `undefined` when nothing of it is held. */
  held(namespace: string, collection: string, id: string): string | null | undefined {
    return this.#pending.get(`${namespace}\u0000${collection}`)?.get(id);
  }

  /** Holds a write (`null`: a delete); resolves once it is held, or sent when too much was held. */
  async defer(namespace: string, collection: string, id: string, json: string | null): Promise<void> {
    const key = `${namespace}\u0000${collection}`;
    let documents = this.#pending.get(key);
    if (!documents) this.#pending.set(key, (documents = new Map()));
    const before = documents.size;
    documents.set(id, json);
    this.#size += documents.size - before;
    if (this.#size >= MAX_HELD_BACK) await this.flush();
  }

  /** Forgets what is held of `namespace`: it was dropped in this transaction. */
  discard(namespace: string): void {
    const prefix = `${namespace}\u0000`;
    for (const [key, documents] of this.#pending) {
      if (!key.startsWith(prefix)) continue;
      this.#size -= documents.size;
      this.#pending.delete(key);
    }
  }

  /** Sends what is held back for one collection, or (no arguments) for all. */
  async flush(namespace?: string, collection?: string): Promise<void> {
    if (this.#size === 0) return;
    const keys = namespace === undefined ? [...this.#pending.keys()] : [`${namespace}\u0000${collection}`];
    const upserts: [string[], string[], string[], string[]] = [[], [], [], []];
    const deletes: [string[], string[], string[]] = [[], [], []];
    for (const key of keys) {
      const documents = this.#pending.get(key);
      if (!documents) continue;
      this.#pending.delete(key);
      this.#size -= documents.size;
      const at = key.indexOf('\u0000');
      const ns = key.slice(0, at);
      const name = key.slice(at + 1);
      for (const [id, json] of documents) {
        if (json === null) {
          deletes[0].push(ns);
          deletes[1].push(name);
          deletes[2].push(id);
        } else {
          upserts[0].push(ns);
          upserts[1].push(name);
          upserts[2].push(id);
          upserts[3].push(json);
        }
      }
    }
    if (upserts[0].length === 0 && deletes[0].length === 0) return;
    try {
      if (deletes[0].length === 0) await this.#client.query({ ...this.#upserts, values: upserts });
      else await this.#client.query({ ...this.#writes, values: [...upserts, ...deletes] });
    } catch (error) {
      throw this.#failure(error);
    }
  }
}

/** A prepared statement's name for `text`: the same on every connection, another for another schema's text. */
function preparedName(kind: string, text: string): string {
  return `el_rm_${kind}_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
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
  // Before a query of the collection: it sees the transaction's own writes.
  const settle = async (): Promise<void> => {
    if (writeBehind) await writeBehind.flush(namespace, name);
  };
  // An id held back is answered from what is held; any other is as storage has it (nothing of it is held).
  const load = async (id: string): Promise<T | null> => {
    const held = writeBehind?.held(namespace, name, id);
    if (held !== undefined) return held === null ? null : (JSON.parse(held) as T);
    const { rows } = await target.query<{ data: T }>(queries.getDocument, [namespace, name, id]);
    return rows[0]?.data ?? null;
  };
  const write = async (id: string, json: string): Promise<void> => {
    if (writeBehind) await writeBehind.defer(namespace, name, id, json);
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
      const held = writeBehind?.held(namespace, name, id);
      if (held !== undefined) {
        if (held === null) return false;
        // Storage may hold an older version of it: the held delete removes that when sent.
        await writeBehind!.defer(namespace, name, id, null);
        return true;
      }
      const { rowCount } = await target.query(queries.deleteDocument, [namespace, name, id]);
      return (rowCount ?? 0) > 0;
    },
  };
}
