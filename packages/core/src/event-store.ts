/** The `EventStore` contract every adapter implements and `@eventloom/testing` checks. */
import type { Event, EventToAppend, Position, RecordedEvent, StreamVersion } from './event.js';

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
}

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

export interface SubscribeOptions<E extends Event = Event> {
  /** Named subscriptions store their checkpoint in the store and resume from it. */
  readonly subscriptionId?: string;
  /** Where to start when there is no stored checkpoint (inclusive). Default: the start of the log. */
  readonly fromPosition?: Position;
  readonly filter?: LogFilter;
  /** Events per batch read from the store. Default 500. */
  readonly batchSize?: number;
  /** Called once per event, in log order; the checkpoint moves after it returns. */
  readonly handler: (event: RecordedEvent<E>, context: SubscriptionHandlerContext) => void | Promise<void>;
  /** How often to look for new events when no wake-up arrives (other processes' appends). Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** Attempts per event before the subscription stops with `SubscriptionFailedError`. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubles each time up to 5 s. Default 50 ms. */
  readonly retryDelayMs?: number;
}

export type SubscriptionStatus = 'catching_up' | 'live' | 'stopped' | 'failed';

export interface Subscription {
  readonly subscriptionId: string | undefined;
  /** Position of the last event handled, or `null` before the first one. */
  readonly position: Position | null;
  readonly status: SubscriptionStatus;
  /** Resolves once the subscription has handled everything up to `position`. */
  waitFor(position: Position, timeoutMs?: number): Promise<void>;
  /** Stops after the event in hand; resolves when stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
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

  /** The stream's events, in batches. A stream that does not exist reads as empty. */
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent<E>>;

  /** Every event in global order, in batches. */
  readAll<E extends Event = Event>(options?: ReadAllOptions): AsyncIterable<RecordedEvent<E>>;

  /** Events of every stream `category-*`, in global order. */
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent<E>>;

  /** Position of the last event in the log, 0n when empty. */
  headPosition(): Promise<Position>;

  streamInfo(streamId: string): Promise<StreamInfo>;
  setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void>;
  deleteStream(streamId: string, options?: DeleteStreamOptions): Promise<void>;

  /** Catch-up then live: no gap and no duplicate across the switch. */
  subscribe<E extends Event = Event>(options: SubscribeOptions<E>): Subscription;

  readonly checkpoints: CheckpointStore;

  close(): Promise<void>;
}
