/**
 * The small document API every read-model store offers: JSON documents by id in named
 * collections, with lookups by field equality. Rules and checks shared by every store live here
 * so that each one rejects the same input with the same message.
 */
import { InvalidArgumentError, InvalidEventError } from '../errors.js';
import { assertJson } from '../json.js';

/** A top-level field value that `find` can match on. */
export type FieldValue = string | number | boolean | null;

/** Equality on top-level fields of `T`; every given field must match. `null` also matches a missing field. */
export type FieldFilter<T> = { readonly [K in keyof T]?: Extract<T[K], FieldValue> };

export interface FindOptions {
  /** Return at most this many documents. */
  readonly limit?: number;
}

/** Read access to one collection; documents come back as fresh copies, in id order from `find`. */
export interface DocumentReader<T extends object> {
  get(id: string): T | null;
  find(where?: FieldFilter<T>, options?: FindOptions): T[];
  count(where?: FieldFilter<T>): number;
}

/** Read and write access to one collection inside a transaction. */
export interface DocumentCollection<T extends object> extends DocumentReader<T> {
  /** Inserts or replaces the document `id`. */
  upsert(id: string, document: T): void;
  /** Replaces the document `id` with `change(current)`; returns false (and writes nothing) when it does not exist. */
  update(id: string, change: (current: T) => T): boolean;
  /** Returns whether a document was there to delete. */
  delete(id: string): boolean;
}

/** `DocumentReader` of a store whose reads go over the network (PostgreSQL): every answer is a promise. */
export interface AsyncDocumentReader<T extends object> {
  get(id: string): Promise<T | null>;
  find(where?: FieldFilter<T>, options?: FindOptions): Promise<T[]>;
  count(where?: FieldFilter<T>): Promise<number>;
}

/** `DocumentCollection` of an asynchronous store. */
export interface AsyncDocumentCollection<T extends object> extends AsyncDocumentReader<T> {
  upsert(id: string, document: T): Promise<void>;
  update(id: string, change: (current: T) => T): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

/**
 * Either kind of reader: what code written for every store sees. Wrap answers in `step` inside a
 * `drive`n generator (or `await` them where the store is known to be asynchronous).
 */
export type DocumentReaderLike<T extends object> = DocumentReader<T> | AsyncDocumentReader<T>;

/** Either kind of collection. */
export type DocumentCollectionLike<T extends object> = DocumentCollection<T> | AsyncDocumentCollection<T>;

export const MAX_COLLECTION_NAME_LENGTH = 100;
export const MAX_DOCUMENT_ID_LENGTH = 500;
const COLLECTION_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const FIELD_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function assertCollectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_COLLECTION_NAME_LENGTH || !COLLECTION_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      'collection name',
      `must be 1 to ${MAX_COLLECTION_NAME_LENGTH} characters of letters, digits, '_', '.', '-', got ${JSON.stringify(name)}`,
    );
  }
}

export function assertDocumentId(collection: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DOCUMENT_ID_LENGTH) {
    throw new InvalidArgumentError(
      `document id in ${collection}`,
      `must be a non-empty string of at most ${MAX_DOCUMENT_ID_LENGTH} characters, got ${typeof id === 'string' ? `${id.length} characters` : String(id)}`,
    );
  }
}

/** Checks that `document` is a plain JSON object and returns its JSON text. */
export function serializeDocument(collection: string, id: string, document: unknown): string {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new InvalidArgumentError(`document ${collection}/${id}`, 'must be a plain JSON object');
  }
  try {
    assertJson(document, 'document');
  } catch (error) {
    if (error instanceof InvalidEventError) {
      throw new InvalidArgumentError(`document ${collection}/${id}`, `${error.field} ${error.reason}`);
    }
    throw error;
  }
  return JSON.stringify(document);
}

/** Validates a `find`/`count` filter and returns its entries. */
export function filterEntries(collection: string, where: object | undefined): [string, FieldValue][] {
  if (where === undefined) return [];
  if (where === null || typeof where !== 'object' || Array.isArray(where)) {
    throw new InvalidArgumentError(`filter on ${collection}`, 'must be an object of field: value pairs');
  }
  const entries: [string, FieldValue][] = [];
  for (const [field, value] of Object.entries(where)) {
    if (value === undefined) continue;
    if (!FIELD_PATTERN.test(field)) {
      throw new InvalidArgumentError(`filter on ${collection}`, `field ${JSON.stringify(field)} must be a plain identifier (top-level fields only)`);
    }
    const kind = typeof value;
    if (value !== null && kind !== 'string' && kind !== 'boolean' && !(kind === 'number' && Number.isFinite(value))) {
      throw new InvalidArgumentError(
        `filter on ${collection}`,
        `field ${field} must be compared with a string, finite number, boolean or null, got ${kind}`,
      );
    }
    entries.push([field, value as FieldValue]);
  }
  return entries;
}

export function normalizeLimit(collection: string, options: FindOptions | undefined): number | undefined {
  const limit = options?.limit;
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new InvalidArgumentError(`limit on ${collection}`, `must be a non-negative integer, got ${limit}`);
  }
  return limit;
}

/** In-process match of a document against filter entries, with the same rules as the SQL stores. */
export function matchesFields(document: Record<string, unknown>, entries: readonly [string, FieldValue][]): boolean {
  for (const [field, value] of entries) {
    const actual = Object.hasOwn(document, field) ? document[field] : undefined;
    if (value === null ? actual !== null && actual !== undefined : actual !== value) return false;
  }
  return true;
}
