/**
 * The document API on `rm_documents`: JSON text by (namespace, collection, id), with `find` by
 * field equality through `json_extract` — matching exactly what the in-memory store matches.
 */
import {
  assertCollectionName,
  assertDocumentId,
  filterEntries,
  InvalidArgumentError,
  normalizeLimit,
  serializeDocument,
  type DocumentCollection,
  type FieldFilter,
  type FieldValue,
  type FindOptions,
} from '@eventloom/core';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../open-database.js';
import { parseStored } from '../sqlite-errors.js';
import { DELETE_DOCUMENT, GET_DOCUMENT, UPSERT_DOCUMENT } from './sql.js';

type Params = (string | number)[];

/** Prepared statements of one connection, the `find` ones cached by the shape of the filter. */
export class DocumentStatements {
  readonly get: Statement<[string, string, string], string>;
  readonly upsert: Statement<[string, string, string, string]>;
  readonly delete: Statement<[string, string, string]>;
  readonly #queries = new Map<string, Statement<Params, string | number>>();
  /** The file, for error messages. */
  readonly filename: string;

  constructor(private readonly db: SqliteDatabase) {
    this.filename = db.name;
    this.get = db.prepare<[string, string, string], string>(GET_DOCUMENT).pluck();
    this.upsert = db.prepare<[string, string, string, string]>(UPSERT_DOCUMENT);
    this.delete = db.prepare<[string, string, string]>(DELETE_DOCUMENT);
  }

  /** `SELECT data` (or `count(*)`) of the documents matching `entries`, in id order. */
  query(kind: 'find' | 'count', entries: readonly [string, FieldValue][], limited: boolean): Statement<Params, string | number> {
    const key = `${kind}|${limited}|${entries.map(([field, value]) => `${field}:${kindOf(value)}`).join(',')}`;
    let statement = this.#queries.get(key);
    if (!statement) {
      const conditions = entries.map(([field, value]) => condition(field, value));
      const where = ['namespace = ?', 'collection = ?', ...conditions].join(' AND ');
      const sql =
        kind === 'count'
          ? `SELECT count(*) FROM rm_documents WHERE ${where}`
          : `SELECT data FROM rm_documents WHERE ${where} ORDER BY id${limited ? ' LIMIT ?' : ''}`;
      statement = this.db.prepare<Params, string | number>(sql).pluck();
      this.#queries.set(key, statement);
    }
    return statement;
  }
}

/** What the SQL of a condition depends on: null and the booleans are written into it, strings and numbers bound. */
function kindOf(value: FieldValue): string {
  return value === null || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * One equality test. The JSON type is checked too, so that `true` does not match `1` and `'1'`
 * does not match `1` — as in JavaScript. `null` matches an explicit null and a missing field.
 */
function condition(field: string, value: FieldValue): string {
  const path = `'$."${field}"'`;
  if (value === null) return `coalesce(json_type(data, ${path}), 'null') = 'null'`;
  if (typeof value === 'boolean') return `json_type(data, ${path}) = '${value ? 'true' : 'false'}'`;
  if (typeof value === 'number') return `json_type(data, ${path}) IN ('integer', 'real') AND json_extract(data, ${path}) = ?`;
  return `json_type(data, ${path}) = 'text' AND json_extract(data, ${path}) = ?`;
}

function parameters(entries: readonly [string, FieldValue][]): Params {
  const out: Params = [];
  for (const [, value] of entries) if (typeof value === 'string' || typeof value === 'number') out.push(value);
  return out;
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
    const entry = this.entries.get(id);
    if (entry) {
      entry.json = json;
      entry.dirty = true;
    } else {
      this.owner.remember(this, id, { json, dirty: true });
    }
  }
}

/** Past this many documents a transaction writes its changes out and forgets what it read. */
const MAX_BUFFERED = 20_000;

/**
 * The unit of work of one transaction: documents are read from SQLite once and written once,
 * when the transaction ends (or before a `find`/`count`, which SQL answers). A projection that
 * creates an order and updates it twice in a batch costs one write instead of five statements.
 */
export class DocumentBuffer {
  readonly #collections = new Map<string, CollectionBuffer>();
  #size = 0;

  constructor(readonly statements: DocumentStatements) {}

  collection(namespace: string, name: string): CollectionBuffer {
    const key = `${namespace}\u0000${name}`;
    let buffer = this.#collections.get(key);
    if (!buffer) {
      buffer = new CollectionBuffer(this, namespace, name);
      this.#collections.set(key, buffer);
    }
    return buffer;
  }

  /** Writes every change to SQLite; what was read stays known. */
  flush(): void {
    const { upsert, delete: remove } = this.statements;
    for (const buffer of this.#collections.values()) {
      for (const [id, entry] of buffer.entries) {
        if (!entry.dirty) continue;
        if (entry.json === undefined) remove.run(buffer.namespace, buffer.name, id);
        else upsert.run(buffer.namespace, buffer.name, id, entry.json);
        entry.dirty = false;
      }
    }
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
 * buffer) read SQLite directly. `isOpen` guards against use after the transaction.
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
  const matching = (kind: 'find' | 'count', where: FieldFilter<T> | undefined, options?: FindOptions): unknown[] => {
    isOpen();
    const entries = filterEntries(name, where);
    const limit = normalizeLimit(name, options);
    buffer?.flush();
    const params: Params = [namespace, name, ...parameters(entries)];
    if (limit !== undefined) params.push(limit);
    return statements.query(kind, entries, limit !== undefined).all(...params);
  };
  const writer = (): CollectionBuffer => {
    isOpen();
    if (!own) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
    return own;
  };
  return {
    get: (id) => {
      isOpen();
      assertDocumentId(name, id);
      const json = load(id);
      return json === undefined ? null : parse(json);
    },
    find: (where, options) => (matching('find', where, options) as string[]).map(parse),
    count: (where) => Number(matching('count', where)[0]),
    upsert: (id, document) => {
      const target = writer();
      assertDocumentId(name, id);
      target.write(id, serializeDocument(name, id, document));
    },
    update: (id, change) => {
      const target = writer();
      assertDocumentId(name, id);
      const json = target.read(id);
      if (json === undefined) return false;
      target.write(id, serializeDocument(name, id, change(parse(json))));
      return true;
    },
    delete: (id) => {
      const target = writer();
      assertDocumentId(name, id);
      if (target.read(id) === undefined) return false;
      target.write(id, undefined);
      return true;
    },
  };
}
