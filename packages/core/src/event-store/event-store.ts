/** The `EventStore` contract every adapter implements and `@eventloom/testing` checks. */
import type { Event, EventToAppend, Position, RecordedEvent, StreamVersion } from '../envelope/event.js';
import type { EventField, PartialEvent, SomeFieldsOf } from './fields.js';
import type { FailurePolicy } from '../projections/projection.js';
import type { ConsumerGroupMember, ConsumerGroupOptions } from '../subscriptions/group.js';
import type { SubscriptionDeadLetters } from '../subscriptions/dead-letters.js';
import type { SubscriptionEvent, SubscriptionLogger } from '../subscriptions/events.js';

/**
 * What the stream's version must be for an append to go through:
 * - `'any'`: no check;
 * - `'no_stream'`: the stream has no events yet;
 * - `'stream_exists'`: the stream has at least one event;
 * - a version `n` (bigint or safe integer): the stream's last event is number `n` (`0` = empty).
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | bigint | number;

export interface AppendOptions {
  /** Defaults to `'any'`. */
  readonly expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append: pass it as `expectedVersion` for the next one. */
  readonly nextExpectedVersion: StreamVersion;
  /** Global position of the last event appended. */
  readonly position: Position;
  /** True when the append was an exact retry of one already recorded, and nothing new was written. */
  readonly idempotent: boolean;
  /** The recorded events (for an idempotent retry: those recorded the first time). */
  readonly events: readonly RecordedEvent[];
}

export type ReadDirection = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  readonly direction?: ReadDirection;
  /** Version to start from, inclusive. Forwards defaults to the start, backwards to the end. */
  readonly fromVersion?: bigint | number;
  /** Stop after this many events. */
  readonly maxCount?: number;
  /** Events fetched per round trip; the iterable never holds more than one batch. Default 500. */
  readonly batchSize?: number;
  /** Read only these fields of each event (see `ReadFields`). Default: whole events. */
  readonly fields?: readonly EventField[];
}

/**
 * `fields` of a read: each event yielded has exactly these own keys (in the order of the whole
 * event) with the values a whole read gives, and the store fetches and decodes only what they
 * need. Which events are yielded does not change. Unknown names, a non-array or an empty array
 * are refused with `InvalidArgumentError` before anything is read.
 */
export interface ReadFields<F extends EventField> {
  readonly fields: readonly F[];
}

/** Options without `fields`: the read yields whole events. */
export type WholeEvents = { readonly fields?: undefined };

export interface LogFilter {
  /** Only events of these types. */
  readonly eventTypes?: readonly string[];
  /** Only events of streams whose id starts with one of these prefixes, e.g. `order-`. */
  readonly streamPrefixes?: readonly string[];
}

export interface ReadAllOptions {
  /** Position to start from, inclusive. Default: the start of the log. */
  readonly fromPosition?: Position;
  readonly maxCount?: number;
  readonly filter?: LogFilter;
  readonly batchSize?: number;
  /** Read only these fields of each event (see `ReadFields`). Default: whole events. */
  readonly fields?: readonly EventField[];
}

export type ReadCategoryOptions = Omit<ReadAllOptions, 'filter'> & {
  readonly eventTypes?: readonly string[];
};

/** Per-stream settings; they shape what `readStream` returns. */
export interface StreamMetadata {
  /** Keep only the newest `maxCount` events visible. */
  readonly maxCount?: number;
  /** Hide events older than this many seconds. */
  readonly maxAgeSeconds?: number;
  /** Hide events before this version. */
  readonly truncateBefore?: bigint;
  /** Your own settings, JSON. */
  readonly custom?: Record<string, unknown>;
}

export interface StreamInfo {
  readonly streamId: string;
  /** Version of the last event ever appended (also counting soft-deleted ones); 0n if none. */
  readonly version: StreamVersion;
  readonly exists: boolean;
  readonly softDeleted: boolean;
  readonly tombstoned: boolean;
  readonly metadata: StreamMetadata;
}

export interface DeleteStreamOptions {
  readonly expectedVersion?: ExpectedVersion;
  /**
   * `false` (default): soft delete — events are hidden from `readStream`, the stream can be
   * appended to again and keeps its numbering. `true`: tombstone — the stream can never be
   * read or written again.
   */
  readonly hard?: boolean;
}

export interface SubscriptionHandlerContext {
  /** The subscription's id, or `undefined` for an anonymous one. */
  readonly subscriptionId: string | undefined;
}

/**
 * Where a subscription starts when it has no stored checkpoint:
 * - `'start'` (the default): the whole log is replayed, from the first event;
 * - `'now'`: only events appended after it starts (a named subscription stores the head as its
 *   checkpoint at once, so a restart still resumes there and misses nothing);
 * - `{ position }`: from this position, inclusive.
 * A named subscription with a checkpoint always resumes after it, whatever `from` says.
 */
export type SubscriptionStart = 'start' | 'now' | { readonly position: Position };

export interface SubscribeOptions<E extends Event = Event> {
  /**
   * Named subscriptions store their checkpoint in the store and resume from it. One process at a
   * time handles a named subscription: it holds a lease in the store, and any other process
   * subscribing with the same id stands by (status `standby`) until the holder stops or dies.
   */
  readonly subscriptionId?: string;
  /**
   * Where to start when there is no stored checkpoint. Default `'start'`: a new subscription
   * replays the WHOLE log before it is live; pass `'now'` for a service that only needs new events.
   */
  readonly from?: SubscriptionStart;
  /** Same as `from: { position }`; kept for existing code. */
  readonly fromPosition?: Position;
  readonly filter?: LogFilter;
  /** Events per batch read from the store. Default 500. */
  readonly batchSize?: number;
  /** Called once per event, in log order; the checkpoint moves after it returns. */
  readonly handler: (event: RecordedEvent<E>, context: SubscriptionHandlerContext) => void | Promise<void>;
  /** How often to look for new events when no wake-up arrives (other processes' appends). Default 250 ms. */
  readonly pollIntervalMs?: number;
  /**
   * What happens when the handler throws: retried with backoff, then `'stop'` (default: status
   * `failed`, a `failed` event and log line, `done` rejects with `SubscriptionFailedError`) or
   * `'dead-letter'` (the event, error and attempts are recorded in `store.subscriptionDeadLetters`,
   * and the subscription moves on). The same policy as projections'.
   */
  readonly failurePolicy?: FailurePolicy;
  /** Same as `failurePolicy.maxAttempts`; kept for existing code. */
  readonly maxAttempts?: number;
  /** Same as `failurePolicy.retryDelayMs`; kept for existing code. */
  readonly retryDelayMs?: number;
  /** Told of retries, failures, dead letters, store errors, leadership and going live. */
  readonly onEvent?: (event: SubscriptionEvent) => void;
  /**
   * Where retries, failures and dead letters are written as log lines. Default `console`;
   * `false` for none (the events still go to `onEvent`).
   */
  readonly logger?: SubscriptionLogger | false;
  /** How long a named subscription's hold lasts without renewal; a standby takes over after it. Default 10,000 ms. */
  readonly leaseMs?: number;
}

export type SubscriptionStatus = 'standby' | 'catching_up' | 'live' | 'stopped' | 'failed';

export interface Subscription {
  readonly subscriptionId: string | undefined;
  /** Position of the last event handled, or `null` before the first one. */
  readonly position: Position | null;
  readonly status: SubscriptionStatus;
  /** Resolves once the subscription has handled everything up to `position`. */
  waitFor(position: Position, timeoutMs?: number): Promise<void>;
  /**
   * Resolves the first time the subscription has caught up with the log and is live; rejects if
   * it stops or fails first.
   */
  readonly live: Promise<void>;
  /**
   * Runs the handler again on each of this subscription's dead letters, in log order: those it
   * now handles are removed, the others stay (with the new error and attempt count).
   */
  retryDeadLetters(): Promise<DeadLetterRetryResult>;
  /** Stops after the event in hand; resolves when stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

export interface DeadLetterRetryResult {
  /** Dead letters handled this time, and so removed. */
  readonly handled: number;
  /** Dead letters whose handler threw again; they stay. */
  readonly failed: number;
}

/** Checkpoints of named subscriptions, kept by the store. */
export interface CheckpointStore {
  load(subscriptionId: string): Promise<Position | null>;
  store(subscriptionId: string, position: Position): Promise<void>;
}

/**
 * The event store. Streams are ordered, append-only sequences of events; the global log orders
 * every event of every stream.
 */
export interface EventStore {
  /**
   * Appends `events` to `streamId` atomically: all are recorded or none. An exact retry (the same
   * event ids at the same place) succeeds again without writing duplicates.
   * @throws WrongExpectedVersionError, StreamDeletedError, InvalidEventError, InvalidArgumentError,
   *   DuplicateEventIdError
   */
  appendToStream<E extends Event>(
    streamId: string,
    events: readonly EventToAppend<E>[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * The stream's events, in batches. A stream that does not exist reads as empty. With `fields`,
   * only those fields of each event (`PartialEvent`); naming `E` explicitly, name the fields'
   * type too: `readStream<OrderEvent, 'type' | 'data'>(id, { fields: ['type', 'data'] })`.
   */
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readStream<E extends Event = Event, F extends EventField = never>(
    streamId: string,
    options: ReadStreamOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;

  /** Every event in global order, in batches; `fields` as for `readStream`. */
  readAll<E extends Event = Event>(options?: ReadAllOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readAll<E extends Event = Event, F extends EventField = never>(options: ReadAllOptions & ReadFields<F>): AsyncIterable<PartialEvent<E, F>>;
  readAll<E extends Event = Event>(options?: ReadAllOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;

  /** Events of every stream `category-*`, in global order; `fields` as for `readStream`. */
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readCategory<E extends Event = Event, F extends EventField = never>(
    category: string,
    options: ReadCategoryOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;

  /** Position of the last event in the log, 0n when empty. */
  headPosition(): Promise<Position>;

  streamInfo(streamId: string): Promise<StreamInfo>;
  setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void>;
  deleteStream(streamId: string, options?: DeleteStreamOptions): Promise<void>;

  /** Catch-up then live: no gap and no duplicate across the switch. */
  subscribe<E extends Event = Event>(options: SubscribeOptions<E>): Subscription;

  /**
   * Joins the consumer group `options.group`: members in any number of processes share the work.
   * Streams fall into partitions by a hash of their id; each partition is held by one member at a
   * time (a lease in the store), so a stream's events are handled in order by one member. A member
   * that stops hands its partitions back; one that dies loses them when its lease runs out.
   */
  subscribeGroup<E extends Event = Event>(options: ConsumerGroupOptions<E>): ConsumerGroupMember;

  readonly checkpoints: CheckpointStore;

  /** Events subscriptions (and group members) gave up on under the `dead-letter` policy. */
  readonly subscriptionDeadLetters: SubscriptionDeadLetters;

  close(): Promise<void>;
}
