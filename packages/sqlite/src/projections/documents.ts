/**
 * The document API on `rm_documents`: JSON text by (namespace, collection, id), with queries
 * translated to SQL by query-sql.ts — matching exactly what the in-memory store matches (core's
 * one comparison rule), and answered from the declared expression indexes where they apply.
 */
import { InvalidArgumentError, type DocumentCollection, type Page } from '@eventloom/core';
import {
  assertCollectionName,
  assertDocumentId,
  encodeCursor,
  normalizeQuery,
  positionOf,
  serializeDocument,
} from '@eventloom/core/adapter';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../open-database.js';
import { parseStored } from '../sqlite-errors.js';
import { querySql, type SqlParam } from './query-sql.js';
import { DELETE_DOCUMENT, GET_DOCUMENT, UPSERT_DOCUMENT, upsertDocumentsSql } from './sql.js';

type Row = [id: string, data: string];

/** Documents per multi-row upsert of a flush (4 parameters each, far below SQLite's limit). */
const UPSERT_ROWS = 64;

/** Queries come in many shapes (fields, operators, cursor kinds): keep at most this many prepared. */
const MAX_QUERIES = 256;

/** Prepared statements of one connection, the query ones cached by their SQL. */
export class DocumentStatements {
  readonly get: Statement<[string, string, string], string>;
  readonly upsert: Statement<[string, string, string, string]>;
  /** `UPSERT_ROWS` documents at once: namespace, collection, id and JSON of each, in turn. */
  readonly upsertMany: Statement<string[]>;
  readonly delete: Statement<[string, string, string]>;
  readonly #queries = new Map<string, Statement<SqlParam[]>>();
  /** The file, for error messages. */
  readonly filename: string;

  constructor(private readonly db: SqliteDatabase) {
    this.filename = db.name;
    this.get = db.prepare<[string, string, string], string>(GET_DOCUMENT).pluck();
    this.upsert = db.prepare<[string, string, string, string]>(UPSERT_DOCUMENT);
    this.upsertMany = db.prepare<string[]>(upsertDocumentsSql(UPSERT_ROWS));
    this.delete = db.prepare<[string, string, string]>(DELETE_DOCUMENT);
  }

  /** The statement for `sql`, prepared once (the oldest is forgotten past MAX_QUERIES). */
  query(sql: string): Statement<SqlParam[]> {
    let statement = this.#queries.get(sql);
    if (statement) {
      // Most recently used last.
      this.#queries.delete(sql);
    } else {
      statement = this.db.prepare<SqlParam[]>(sql);
      if (this.#queries.size >= MAX_QUERIES) this.#queries.delete(this.#queries.keys().next().value!);
    }
    this.#queries.set(sql, statement);
    return statement;
  }
}

/** A document as the transaction last saw or wrote it: JSON text, or `undefined` when there is none. */
interface Entry {
  json: string | undefined;
  dirty: boolean;
}

/** The documents of one collection that a transaction has read or written, by id. */
export class CollectionBuffer {
  readonly entries = new Map<string, Entry>();

  constructor(
    private readonly owner: DocumentBuffer,
    readonly namespace: string,
    readonly name: string,
  ) {}

  read(id: string): string | undefined {
    const entry = this.entries.get(id);
    if (entry) return entry.json;
    const json = this.owner.statements.get.get(this.namespace, this.name, id);
    this.owner.remember(this, id, { json, dirty: false });
    return json;
  }

  write(id: string, json: string | undefined): void {
    // Written through: SQLite has it (or refused it, failing this call) before the call resolves.
    const dirty = !this.owner.writeThrough;
    if (!dirty) {
      const { upsert, delete: remove } = this.owner.statements;
      if (json === undefined) remove.run(this.namespace, this.name, id);
      else upsert.run(this.namespace, this.name, id, json);
    }
    const entry = this.entries.get(id);
    if (entry) {
      entry.json = json;
      entry.dirty = dirty;
    } else {
      this.owner.remember(this, id, { json, dirty });
    }
  }
}

/** Past this many documents a transaction writes its changes out and forgets what it read. */
const MAX_BUFFERED = 20_000;

/**
 * The unit of work of one transaction: documents are read from SQLite once and written once,
 * when the transaction ends (or before a `find`/`count`, which SQL answers). A projection that
 * creates an order and updates it twice in a batch costs one write instead of five statements.
 * `writeThrough` (a transaction without `batchWrites`) writes each at its call instead, so a
 * write SQLite refuses fails the call that made it; reads are still remembered.
 */
export class DocumentBuffer {
  readonly #collections = new Map<string, CollectionBuffer>();
  #size = 0;

  constructor(
    readonly statements: DocumentStatements,
    readonly writeThrough = false,
  ) {}

  collection(namespace: string, name: string): CollectionBuffer {
    const key = `${namespace}\u0000${name}`;
    let buffer = this.#collections.get(key);
    if (!buffer) {
      buffer = new CollectionBuffer(this, namespace, name);
      this.#collections.set(key, buffer);
    }
    return buffer;
  }

  /**
   * Writes every change to SQLite; what was read stays known. Upserts go `UPSERT_ROWS` to a
   * statement: one call into SQLite instead of one per document.
   */
  flush(): void {
    const { upsert, upsertMany, delete: remove } = this.statements;
    const rows: string[] = [];
    for (const buffer of this.#collections.values()) {
      for (const [id, entry] of buffer.entries) {
        if (!entry.dirty) continue;
        if (entry.json === undefined) remove.run(buffer.namespace, buffer.name, id);
        else {
          rows.push(buffer.namespace, buffer.name, id, entry.json);
          if (rows.length === UPSERT_ROWS * 4) upsertMany.run(...rows.splice(0));
        }
        entry.dirty = false;
      }
    }
    for (let at = 0; at < rows.length; at += 4) upsert.run(rows[at]!, rows[at + 1]!, rows[at + 2]!, rows[at + 3]!);
  }

  /** Forgets everything of `namespace`, written or not: it was dropped in this transaction. */
  discard(namespace: string): void {
    for (const buffer of this.#collections.values()) {
      if (buffer.namespace !== namespace) continue;
      this.#size -= buffer.entries.size;
      buffer.entries.clear();
    }
  }

  remember(buffer: CollectionBuffer, id: string, entry: Entry): void {
    if (this.#size >= MAX_BUFFERED) {
      this.flush();
      for (const each of this.#collections.values()) each.entries.clear();
      this.#size = 0;
    }
    buffer.entries.set(id, entry);
    this.#size++;
  }
}

/**
 * A collection of `namespace`. Writers go through the transaction's `buffer`; readers (no
 * buffer) read SQLite directly. `isOpen` guards against use after the transaction. Every method
 * answers with a promise, as on every store; the SQL itself runs synchronously inside it.
 */
export function sqliteCollection<T extends object>(
  statements: DocumentStatements,
  namespace: string,
  name: string,
  isOpen: () => void,
  buffer: DocumentBuffer | null,
): DocumentCollection<T> {
  assertCollectionName(name);
  const own = buffer?.collection(namespace, name) ?? null;
  const parse = (json: string): T => parseStored<T>(json, statements.filename, `a document of ${namespace}/${name}`);
  const load = (id: string): string | undefined => (own ? own.read(id) : statements.get.get(namespace, name, id));
  const run = (kind: 'find' | 'count', query: ReturnType<typeof normalizeQuery>, limit: number | undefined): unknown[] => {
    // SQL answers queries: the transaction's pending writes go first.
    buffer?.flush();
    const { sql, params } = querySql(kind, namespace, name, query, limit);
    const statement = statements.query(sql);
    return kind === 'count' ? [statement.pluck().get(...params)] : (statement.raw().all(...params) as Row[]);
  };
  const writer = (): CollectionBuffer => {
    isOpen();
    if (!own) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
    return own;
  };
  return {
    get: async (id) => {
      isOpen();
      assertDocumentId(name, id);
      const json = load(id);
      return json === undefined ? null : parse(json);
    },
    find: async (query) => {
      isOpen();
      const normalized = normalizeQuery(name, query, 'find');
      return (run('find', normalized, normalized.limit) as Row[]).map((row) => parse(row[1]));
    },
    findPage: async (query): Promise<Page<T>> => {
      isOpen();
      const normalized = normalizeQuery(name, query, 'page');
      const limit = normalized.limit!;
      // One more than the page: whether there is a next page, without a second query.
      const rows = run('find', normalized, limit + 1) as Row[];
      const page = rows.slice(0, limit);
      const documents = page.map((row) => parse(row[1]));
      const last = page.length - 1;
      const next = rows.length > limit && last >= 0 ? encodeCursor(normalized, positionOf(normalized, page[last]![0], documents[last]!)) : null;
      return { documents, next };
    },
    count: async (where) => {
      isOpen();
      return Number(run('count', normalizeQuery(name, where, 'count'), undefined)[0]);
    },
    upsert: async (id, document) => {
      const target = writer();
      assertDocumentId(name, id);
      target.write(id, serializeDocument(name, id, document));
    },
    update: async (id, change) => {
      const target = writer();
      assertDocumentId(name, id);
      const json = target.read(id);
      if (json === undefined) return false;
      target.write(id, serializeDocument(name, id, change(parse(json))));
      return true;
    },
    delete: async (id) => {
      const target = writer();
      assertDocumentId(name, id);
      if (target.read(id) === undefined) return false;
      target.write(id, undefined);
      return true;
    },
  };
}
