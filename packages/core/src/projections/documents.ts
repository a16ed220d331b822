/**
 * The document API every read-model store offers: JSON documents by id in named collections,
 * with queries (filters, ordering, cursor paging). Rules and checks shared by every store live
 * here and in `query.ts`, so that each one rejects the same input with the same message.
 */
import { InvalidArgumentError, InvalidEventError } from '../envelope/errors.js';
import { assertJson } from '../envelope/json.js';
import type { FindQuery, Page, PageQuery, Where } from './query.js';

/**
 * Read access to one collection. Every answer is a promise, on every store; documents come back
 * as fresh copies, ordered by the query's `orderBy` and then by id (see `query.ts` for the rule).
 */
export interface DocumentReader<T extends object> {
  get(id: string): Promise<T | null>;
  /** Every matching document (or the first `limit`). */
  find(query?: FindQuery<T>): Promise<T[]>;
  /** One page of matching documents and the cursor of the next; stable under ties (ids break them). */
  findPage(query?: PageQuery<T>): Promise<Page<T>>;
  count(where?: Where<T>): Promise<number>;
}

/** Read and write access to one collection inside a transaction. */
export interface DocumentCollection<T extends object> extends DocumentReader<T> {
  /** Inserts or replaces the document `id`. */
  upsert(id: string, document: T): Promise<void>;
  /** Replaces the document `id` with `change(current)`; resolves false (and writes nothing) when it does not exist. */
  update(id: string, change: (current: T) => T): Promise<boolean>;
  /** Resolves whether a document was there to delete. */
  delete(id: string): Promise<boolean>;
}

export const MAX_COLLECTION_NAME_LENGTH = 100;
export const MAX_DOCUMENT_ID_LENGTH = 500;
const COLLECTION_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

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
