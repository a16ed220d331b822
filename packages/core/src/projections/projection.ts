/**
 * Declaring a projection: a name, a version and one handler per event type, typed by the event
 * union. The event types it reads are the keys of its handlers.
 */
import { InvalidArgumentError } from '../envelope/errors.js';
import type { Event, EventOfType, RecordedEvent } from '../envelope/event.js';
import type { LogFilter } from '../event-store/event-store.js';
import { assertCollections, type CollectionDefinition } from './collection.js';
import { projectionNamespace, type ProjectionNamespace } from './namespace.js';
import type { ProjectionHandle } from './read-model-store.js';

/** What happens when a handler keeps throwing on an event. */
export interface FailurePolicy {
  /**
   * After the last attempt: `'stop'` (default) stops the projection at the event, with the event,
   * error and position recorded, until it is restarted; `'dead-letter'` records a dead letter and
   * moves on. Never a silent skip.
   */
  readonly onFailure?: 'stop' | 'dead-letter';
  /** Attempts per event, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubles each time. Default 100 ms. */
  readonly retryDelayMs?: number;
  /** Upper bound of the delay. Default 5 s. */
  readonly maxRetryDelayMs?: number;
}

/** A handler: a plain `async` function on every store (writes through `handle` are awaited). */
export type ProjectionHandler<E extends Event, H> = (event: RecordedEvent<E>, handle: H) => Promise<void> | void;

/** One optional handler per member of the union `E`, keyed by its type. */
export type ProjectionHandlers<E extends Event, H> = {
  readonly [T in E['type']]?: ProjectionHandler<EventOfType<E, T>, H>;
};

export interface ProjectionDefinition<E extends Event, H extends ProjectionHandle> {
  /** Stable name, e.g. `order-summary`; readers find the read model by it. */
  readonly name: string;
  /** Bump it when the handlers change what they write: the new version is rebuilt beside the old (blue/green). */
  readonly version: number;
  /** The collections it writes, declared with `defineCollection`: their indexes are created when the version is prepared. */
  readonly collections?: readonly CollectionDefinition<object>[];
  readonly handlers: ProjectionHandlers<E, H>;
  /** Runs once per version before its first event, in the same transaction: create tables, indexes. */
  readonly init?: (handle: H) => Promise<void> | void;
  /** Only events of streams in these categories (`order` reads `order-*`). Default: every stream. */
  readonly categories?: readonly string[];
  readonly failurePolicy?: FailurePolicy;
  /** Events read and applied per transaction. Default: the runner's. */
  readonly batchSize?: number;
}

/**
 * A projection as runners see it, whatever its event union: what `ProjectionRunner`,
 * `replayTimeRange` and the testing helpers take.
 */
export interface AnyProjection<H extends ProjectionHandle = ProjectionHandle> {
  readonly name: string;
  readonly version: number;
  readonly namespace: ProjectionNamespace;
  /** The event types it handles: the keys of its handlers. */
  readonly eventTypes: readonly string[];
  /** What it reads from the log. */
  readonly filter: LogFilter;
  readonly failurePolicy: FailurePolicy | undefined;
  readonly batchSize: number | undefined;
  /** Its declared collections. */
  readonly collections: readonly CollectionDefinition<object>[];
  /** Runs the handler of `event`'s type; events of other types are left alone. */
  readonly apply: (event: RecordedEvent, handle: H) => Promise<void>;
  readonly init: ((handle: H) => Promise<void>) | undefined;
}

export interface Projection<E extends Event = Event, H extends ProjectionHandle = ProjectionHandle> extends AnyProjection<H> {
  readonly eventTypes: readonly E['type'][];
  readonly handlers: ProjectionHandlers<E, H>;
}

/**
 * Declares a projection over the event union `E`, writing through handles of type `H`
 * (`ProjectionHandle` for the document API on any store; a store's own handle type for its
 * extras, e.g. plain SQL on SQLite).
 *
 * @example
 * const orders = defineCollection<OrderSummary>('orders', { indexes: { byCustomer: ['customerId', 'placedAt'] } });
 * const orderSummary = defineProjection<OrderEvent>({
 *   name: 'order-summary',
 *   version: 1,
 *   collections: [orders],
 *   handlers: {
 *     OrderCreated: async (event, { collection }) => { await collection(orders).upsert(event.data.orderId, { ... }); },
 *     OrderPaid: async (event, { collection }) => { await collection(orders).update(event.data.orderId, (o) => ({ ...o, status: 'paid' })); },
 *   },
 * });
 */
export function defineProjection<E extends Event, H extends ProjectionHandle = ProjectionHandle>(
  definition: ProjectionDefinition<E, H>,
): Projection<E, H> {
  if (definition === null || typeof definition !== 'object') throw new InvalidArgumentError('projection', 'must be an object');
  const namespace = projectionNamespace(definition.name, definition.version);
  const handlers = definition.handlers as Readonly<Record<string, ProjectionHandler<Event, H> | undefined>>;
  if (handlers === null || typeof handlers !== 'object') {
    throw new InvalidArgumentError(`handlers of projection ${definition.name}`, 'must be an object of event type: handler');
  }
  const eventTypes = Object.keys(handlers).filter((type) => handlers[type] !== undefined);
  if (eventTypes.length === 0) {
    throw new InvalidArgumentError(`handlers of projection ${definition.name}`, 'must handle at least one event type');
  }
  for (const type of eventTypes) {
    if (typeof handlers[type] !== 'function') {
      throw new InvalidArgumentError(`handler for ${type} in projection ${definition.name}`, 'must be a function');
    }
  }
  if (definition.init !== undefined && typeof definition.init !== 'function') {
    throw new InvalidArgumentError(`init of projection ${definition.name}`, 'must be a function');
  }
  const categories = definition.categories;
  if (categories !== undefined && (!Array.isArray(categories) || categories.some((c) => typeof c !== 'string' || c === '' || c.includes('-')))) {
    throw new InvalidArgumentError(`categories of projection ${definition.name}`, 'must be an array of category names (the part of a stream id before the first "-")');
  }
  const collections = definition.collections ?? [];
  assertCollections(namespace.name, collections);
  validateFailurePolicy(definition.name, definition.failurePolicy);
  if (definition.batchSize !== undefined && (!Number.isSafeInteger(definition.batchSize) || definition.batchSize < 1)) {
    throw new InvalidArgumentError(`batchSize of projection ${definition.name}`, `must be a positive integer, got ${definition.batchSize}`);
  }
  const filter: LogFilter = {
    eventTypes,
    ...(categories && categories.length > 0 && { streamPrefixes: categories.map((c) => `${c}-`) }),
  };
  return {
    name: namespace.name,
    version: namespace.version,
    namespace,
    eventTypes: eventTypes as E['type'][],
    handlers: definition.handlers,
    filter,
    failurePolicy: definition.failurePolicy,
    batchSize: definition.batchSize,
    collections: Object.freeze([...collections]),
    init: definition.init ? async (handle) => definition.init!(handle) : undefined,
    apply: async (event, handle) => handlers[event.type]?.(event, handle),
  };
}

function validateFailurePolicy(name: string, policy: FailurePolicy | undefined): void {
  if (policy === undefined) return;
  const argument = `failurePolicy of projection ${name}`;
  if (policy.onFailure !== undefined && policy.onFailure !== 'stop' && policy.onFailure !== 'dead-letter') {
    throw new InvalidArgumentError(argument, `onFailure must be 'stop' or 'dead-letter', got ${JSON.stringify(policy.onFailure)}`);
  }
  if (policy.maxAttempts !== undefined && (!Number.isSafeInteger(policy.maxAttempts) || policy.maxAttempts < 1)) {
    throw new InvalidArgumentError(argument, `maxAttempts must be a positive integer, got ${policy.maxAttempts}`);
  }
  for (const key of ['retryDelayMs', 'maxRetryDelayMs'] as const) {
    const value = policy[key];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      throw new InvalidArgumentError(argument, `${key} must be a non-negative number, got ${value}`);
    }
  }
}
