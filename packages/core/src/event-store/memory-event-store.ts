/**
 * The in-memory event store: the reference implementation of the contract, small enough to read
 * in one sitting, and the store for unit tests.
 */
import { AppendSignal } from './append-signal.js';
import { assertSubscriptionId, normalizeCheckpoint } from './checkpoint.js';
import { DuplicateEventIdError, StoreClosedError, StreamDeletedError, WrongExpectedVersionError } from '../envelope/errors.js';
import type { Event, EventToAppend, Position, RecordedEvent } from '../envelope/event.js';
import type {
  AppendOptions,
  AppendResult,
  CheckpointStore,
  DeleteStreamOptions,
  EventStore,
  ReadAllOptions,
  ReadCategoryOptions,
  ReadFields,
  ReadStreamOptions,
  StreamInfo,
  StreamMetadata,
  SubscribeOptions,
  Subscription,
  WholeEvents,
} from './event-store.js';
import { normalizeFields, type EventField, type FieldSelection, type PartialEvent, type SomeFieldsOf } from './fields.js';
import { checkExpectedVersion, normalizeExpectedVersion, retryMatchesExpectation, type StreamState } from './expected-version.js';
import { prepareAppend } from './prepare-append.js';
import {
  matchesFilter,
  normalizeBatchSize,
  normalizeFilter,
  normalizeMaxCount,
  normalizeOptions,
  normalizePosition,
  normalizeVersion,
} from './read-options.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { assertCategory, assertStreamId } from '../envelope/stream-id.js';
import { firstVisibleVersion, normalizeStreamMetadata, oldestVisibleTime, softDeletedMetadata } from './stream-metadata.js';
import { startSubscription } from '../subscriptions/subscription.js';
import { startGroupMember, type GroupSubscriptionSource } from '../subscriptions/consumer-group.js';
import { MemorySubscriptionDeadLetters, type SubscriptionDeadLetters } from '../subscriptions/dead-letters.js';
import type { ConsumerGroupMember, ConsumerGroupOptions } from '../subscriptions/group.js';
import { MemoryLeaseStore } from '../subscriptions/lease.js';

export interface MemoryEventStoreOptions {
  /** Validates appended data and upcasts what is read. */
  readonly schemas?: SchemaRegistry;
  /** The `source` of recorded events. Default `eventloom`. */
  readonly source?: string;
  /** Where recorded times come from; tests pass a fake clock. */
  readonly clock?: () => Date;
}

interface StreamRecord {
  readonly events: RecordedEvent[];
  version: bigint;
  /** Time of the stream's last event: later events are never recorded earlier. */
  lastTime: string;
  metadata: StreamMetadata;
  softDeleted: boolean;
  tombstoned: boolean;
}

export class MemoryEventStore implements EventStore {
  readonly #log: RecordedEvent[] = [];
  readonly #streams = new Map<string, StreamRecord>();
  readonly #ids = new Map<string, RecordedEvent>();
  readonly #checkpoints = new Map<string, Position>();
  readonly #signal = new AppendSignal();
  readonly #schemas: SchemaRegistry | undefined;
  readonly #source: string;
  readonly #clock: () => Date;
  #closed = false;

  readonly subscriptionDeadLetters: SubscriptionDeadLetters = new MemorySubscriptionDeadLetters(() => this.#assertOpen());
  readonly #leases = new MemoryLeaseStore(this.#checkpoints, () => this.#assertOpen());

  readonly checkpoints: CheckpointStore = {
    load: async (id) => {
      this.#assertOpen();
      assertSubscriptionId(id);
      return this.#checkpoints.get(id) ?? null;
    },
    store: async (id, position) => {
      this.#assertOpen();
      assertSubscriptionId(id);
      this.#checkpoints.set(id, normalizeCheckpoint(position));
    },
  };

  constructor(options: MemoryEventStoreOptions = {}) {
    this.#schemas = options.schemas;
    this.#source = options.source ?? 'eventloom';
    this.#clock = options.clock ?? (() => new Date());
  }

  async appendToStream<E extends Event>(
    streamId: string,
    events: readonly EventToAppend<E>[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    this.#assertOpen();
    const prepared = await prepareAppend(streamId, events, options, this.#schemas);
    this.#assertOpen();
    const stream = this.#streams.get(streamId);
    if (stream?.tombstoned) throw new StreamDeletedError(streamId);

    const retry = this.#exactRetry(streamId, prepared.expected, prepared.events.map((e) => e.id));
    if (retry) return retry;
    checkExpectedVersion(streamId, prepared.expected, visibility(stream));

    const record = stream ?? newStream({});
    const time = laterOf(this.#clock().toISOString(), record.lastTime);
    // Recorded events are frozen copies of the JSON every other store keeps: reads hand them out
    // without copying, and no caller can change what a later read returns.
    const recorded: RecordedEvent[] = prepared.events.map((event, i) =>
      Object.freeze({
        id: event.id,
        type: event.type,
        schemaVersion: event.schemaVersion,
        streamId,
        streamVersion: record.version + BigInt(i + 1),
        position: BigInt(this.#log.length + i + 1),
        time,
        source: this.#source,
        correlationId: event.correlationId,
        causationId: event.causationId,
        data: frozenJson(event.dataJson),
        metadata: event.metadataJson === '{}' ? EMPTY : (frozenJson(event.metadataJson) as RecordedEvent['metadata']),
      }),
    );
    for (const event of recorded) {
      this.#log.push(event);
      record.events.push(event);
      this.#ids.set(event.id, event);
    }
    record.version += BigInt(recorded.length);
    record.lastTime = time;
    record.softDeleted = false;
    if (!stream) this.#streams.set(streamId, record);
    this.#signal.notify();
    return { nextExpectedVersion: record.version, position: recorded.at(-1)!.position, idempotent: false, events: recorded };
  }

  /** Returns the original result when `ids` are already recorded here, in order, under the same expectation. */
  #exactRetry(streamId: string, expected: ReturnType<typeof normalizeExpectedVersion>, ids: string[]): AppendResult | null {
    const first = this.#ids.get(ids[0]!);
    const anyKnown = first !== undefined || ids.some((id) => this.#ids.has(id));
    if (!anyKnown) return null;
    if (!first || first.streamId !== streamId) throw new DuplicateEventIdError(first?.id ?? ids.find((id) => this.#ids.has(id))!, streamId);
    const stream = this.#streams.get(streamId)!;
    const start = Number(first.streamVersion) - 1;
    const recorded = stream.events.slice(start, start + ids.length);
    if (recorded.length !== ids.length || recorded.some((event, i) => event.id !== ids[i])) {
      throw new DuplicateEventIdError(first.id, streamId);
    }
    if (!retryMatchesExpectation(expected, first.streamVersion)) {
      throw new WrongExpectedVersionError(streamId, expected, stream.version);
    }
    return {
      nextExpectedVersion: recorded.at(-1)!.streamVersion,
      position: recorded.at(-1)!.position,
      idempotent: true,
      events: recorded,
    };
  }

  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readStream<E extends Event = Event, F extends EventField = never>(
    streamId: string,
    options: ReadStreamOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readStream<E extends Event = Event>(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  async *readStream(streamId: string, given?: ReadStreamOptions): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    this.#assertOpen();
    const options: ReadStreamOptions = normalizeOptions(given);
    assertStreamId(streamId);
    const backwards = options.direction === 'backwards';
    const fromVersion = normalizeVersion(options.fromVersion, 'fromVersion');
    const maxCount = normalizeMaxCount(options.maxCount) ?? Infinity;
    normalizeBatchSize(options.batchSize);
    // Checked last, as every store does, so that one bad input gets the same error everywhere.
    const fields = normalizeFields(options.fields);
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    if (stream.tombstoned) throw new StreamDeletedError(streamId);
    const first = firstVisibleVersion(stream.metadata, stream.version);
    const oldest = oldestVisibleTime(stream.metadata, this.#clock());
    const events = stream.events.filter((e) => e.streamVersion >= first && (oldest === undefined || e.time >= oldest));
    const ordered = backwards ? events.reverse() : events;
    let yielded = 0;
    for (const event of ordered) {
      if (yielded >= maxCount) return;
      if (fromVersion !== undefined && (backwards ? event.streamVersion > fromVersion : event.streamVersion < fromVersion)) continue;
      yielded++;
      yield this.#present(event, fields);
    }
  }

  readAll<E extends Event = Event>(options?: ReadAllOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readAll<E extends Event = Event, F extends EventField = never>(options: ReadAllOptions & ReadFields<F>): AsyncIterable<PartialEvent<E, F>>;
  readAll<E extends Event = Event>(options?: ReadAllOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  async *readAll(given?: ReadAllOptions): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    this.#assertOpen();
    const options: ReadAllOptions = normalizeOptions(given);
    const filter = normalizeFilter(options.filter);
    const maxCount = normalizeMaxCount(options.maxCount) ?? Infinity;
    normalizeBatchSize(options.batchSize);
    const fromPosition = normalizePosition(options.fromPosition, 'fromPosition') ?? 1n;
    const fields = normalizeFields(options.fields);
    let index = Math.max(0, Number(fromPosition) - 1);
    let yielded = 0;
    // The log only grows, so indexing it live is safe across the awaits of the consumer.
    while (index < this.#log.length && yielded < maxCount) {
      const event = this.#log[index++]!;
      if (!matchesFilter(filter, event.streamId, event.type)) continue;
      if (this.#streams.get(event.streamId)?.tombstoned) continue;
      yielded++;
      yield this.#present(event, fields);
    }
  }

  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  readCategory<E extends Event = Event, F extends EventField = never>(
    category: string,
    options: ReadCategoryOptions & ReadFields<F>,
  ): AsyncIterable<PartialEvent<E, F>>;
  readCategory<E extends Event = Event>(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent<E> | SomeFieldsOf<E>>;
  async *readCategory(category: string, options?: ReadCategoryOptions): AsyncIterable<RecordedEvent | SomeFieldsOf> {
    assertCategory(category);
    const { eventTypes, ...rest }: ReadCategoryOptions = normalizeOptions(options);
    yield* this.readAll({ ...rest, filter: { streamPrefixes: [`${category}-`], ...(eventTypes && { eventTypes }) } });
  }

  async headPosition(): Promise<Position> {
    this.#assertOpen();
    return BigInt(this.#log.length);
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    this.#assertOpen();
    assertStreamId(streamId);
    const stream = this.#streams.get(streamId);
    return {
      streamId,
      version: stream?.version ?? 0n,
      exists: visibility(stream).visible && !stream!.tombstoned,
      softDeleted: stream?.softDeleted ?? false,
      tombstoned: stream?.tombstoned ?? false,
      metadata: stream?.metadata ?? EMPTY,
    };
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.#assertOpen();
    assertStreamId(streamId);
    const normalized = frozenMetadata(normalizeStreamMetadata(metadata));
    const stream = this.#streams.get(streamId);
    if (stream?.tombstoned) throw new StreamDeletedError(streamId);
    if (stream) stream.metadata = normalized;
    else this.#streams.set(streamId, newStream(normalized));
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<void> {
    this.#assertOpen();
    assertStreamId(streamId);
    const expected = normalizeExpectedVersion(options.expectedVersion);
    const stream = this.#streams.get(streamId);
    if (stream?.tombstoned) throw new StreamDeletedError(streamId);
    checkExpectedVersion(streamId, expected, visibility(stream));
    const record = stream ?? newStream({});
    if (options.hard) {
      record.tombstoned = true;
    } else {
      record.softDeleted = true;
      record.metadata = Object.freeze(softDeletedMetadata(record.metadata, record.version));
    }
    if (!stream) this.#streams.set(streamId, record);
  }

  subscribe<E extends Event = Event>(options: SubscribeOptions<E>): Subscription {
    this.#assertOpen();
    return startSubscription(this.#subscriptionSource(), options);
  }

  subscribeGroup<E extends Event = Event>(options: ConsumerGroupOptions<E>): ConsumerGroupMember {
    this.#assertOpen();
    return startGroupMember(this.#subscriptionSource(), options);
  }

  /** What subscriptions and group members read through: one source for both. */
  #subscriptionSource(): GroupSubscriptionSource {
    return {
      readAll: (o) => this.readAll(o),
      headPosition: () => this.headPosition(),
      checkpoints: this.checkpoints,
      waitForAppend: (ms, signal) => this.#signal.wait(ms, signal),
      leases: this.#leases,
      deadLetters: this.subscriptionDeadLetters,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#signal.notify();
  }

  /** Upcasters see the whole event, so the fields are picked after them. */
  #present(event: RecordedEvent, fields: FieldSelection | undefined): RecordedEvent | SomeFieldsOf {
    const upcast = this.#upcast(event);
    return fields ? fields.pick(upcast) : upcast;
  }

  #upcast(event: RecordedEvent): RecordedEvent {
    const schemas = this.#schemas;
    if (!schemas || event.schemaVersion >= schemas.latestVersion(event.type)) return event;
    // Upcasters may change the data they are given, as they can on stores that parse each read.
    return schemas.upcast({ ...event, data: structuredClone(event.data) });
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

const EMPTY = Object.freeze({});

function newStream(metadata: StreamMetadata): StreamRecord {
  return { events: [], version: 0n, lastTime: '', metadata, softDeleted: false, tombstoned: false };
}

/** ISO 8601 UTC times of one length compare as strings. */
function laterOf(time: string, floor: string): string {
  return time >= floor ? time : floor;
}

function frozenJson(json: string): unknown {
  return deepFreeze(JSON.parse(json) as unknown);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Metadata as kept and handed out: `custom` copied from the caller's object and frozen. */
function frozenMetadata(metadata: StreamMetadata): StreamMetadata {
  const custom = metadata.custom === undefined ? undefined : frozenJson(JSON.stringify(metadata.custom));
  return Object.freeze({ ...metadata, ...(custom !== undefined && { custom: custom as Record<string, unknown> }) });
}

/** A stream with only metadata, or whose events were all soft-deleted, counts as no stream. */
function visibility(stream: StreamRecord | undefined): StreamState {
  return { version: stream?.version ?? 0n, visible: stream !== undefined && stream.version > 0n && !stream.softDeleted };
}
