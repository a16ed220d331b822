/**
 * A collection declared once, with its document type and indexes, so handlers and readers get
 * the type from the declaration and the stores create the indexes when a projection version
 * that lists it is prepared.
 */
import { InvalidArgumentError } from '../envelope/errors.js';
import { assertCollectionName } from './documents.js';
import { assertField, MAX_QUERY_TERMS, type JsonObject, type QueryField } from './query.js';

export const MAX_INDEX_NAME_LENGTH = 40;
const INDEX_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

export interface CollectionOptions<T> {
  /**
   * Indexes by name: each the top-level fields it orders by, most significant first. A query
   * whose equality conditions cover a prefix of an index and whose `orderBy` continues it is
   * answered from the index on SQLite and PostgreSQL.
   */
  readonly indexes?: Readonly<Record<string, readonly QueryField<T>[]>>;
}

export interface CollectionIndex {
  readonly name: string;
  readonly fields: readonly string[];
}

export interface CollectionDefinition<T extends object = JsonObject> {
  readonly name: string;
  readonly indexes: readonly CollectionIndex[];
  /** Never set: carries `T` so `collection(definition)` is typed. */
  readonly documentType?: T;
}

/** A collection by declaration, or by name for undeclared ones (`collection<T>('name')`). */
export type CollectionRef<T extends object> = string | CollectionDefinition<T>;

/**
 * @example
 * const customerOrders = defineCollection<CustomerOrder>('customer-orders', {
 *   indexes: { byCustomer: ['customerId', 'placedAt'] },
 * });
 */
export function defineCollection<T extends object>(name: string, options: CollectionOptions<T> = {}): CollectionDefinition<T> {
  assertCollectionName(name);
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`options of collection ${name}`, 'must be an object { indexes }');
  const given = options.indexes ?? {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidArgumentError(`indexes of collection ${name}`, 'must be an object of index name: [fields]');
  }
  const indexes: CollectionIndex[] = [];
  for (const [index, fields] of Object.entries(given) as [string, readonly string[]][]) {
    const argument = `index ${index} of collection ${name}`;
    if (index.length > MAX_INDEX_NAME_LENGTH || !INDEX_PATTERN.test(index)) {
      throw new InvalidArgumentError(argument, `name must be 1 to ${MAX_INDEX_NAME_LENGTH} letters, digits or '_', starting with a letter`);
    }
    if (!Array.isArray(fields) || fields.length === 0 || fields.length > MAX_QUERY_TERMS) {
      throw new InvalidArgumentError(argument, `must list 1 to ${MAX_QUERY_TERMS} top-level fields`);
    }
    for (const field of fields) {
      if (typeof field !== 'string') throw new InvalidArgumentError(argument, 'fields must be field names');
      assertField(field, argument);
    }
    if (new Set(fields).size !== fields.length) throw new InvalidArgumentError(argument, 'lists a field twice');
    indexes.push(Object.freeze({ name: index, fields: Object.freeze([...fields]) }));
  }
  return Object.freeze({ name, indexes: Object.freeze(indexes) });
}

/** The name of a collection reference, checked. */
export function collectionName(ref: CollectionRef<object>): string {
  const name = typeof ref === 'string' ? ref : (ref as { name?: unknown } | null)?.name;
  assertCollectionName(name);
  return name;
}

/** Checks a projection's `collections` list: declared collections, each name once. */
export function assertCollections(projection: string, collections: unknown): asserts collections is readonly CollectionDefinition<object>[] {
  const argument = `collections of projection ${projection}`;
  if (!Array.isArray(collections)) throw new InvalidArgumentError(argument, 'must be an array of defineCollection(...) results');
  const names = new Set<string>();
  for (const collection of collections as unknown[]) {
    const c = collection as Partial<CollectionDefinition<object>> | null;
    if (c === null || typeof c !== 'object' || typeof c.name !== 'string' || !Array.isArray(c.indexes)) {
      throw new InvalidArgumentError(argument, 'must be an array of defineCollection(...) results');
    }
    if (names.has(c.name)) throw new InvalidArgumentError(argument, `list ${c.name} twice`);
    names.add(c.name);
  }
}
