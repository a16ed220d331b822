/** The event envelope: what a domain event is, what an append takes, and what a store records. */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue | undefined };
export type JsonObject = { [key: string]: JsonValue | undefined };

/**
 * Contextual information carried beside the data: tenant, user, `traceparent`, anything else.
 * Values must be JSON.
 */
export interface EventMetadata {
  readonly tenantId?: string;
  readonly userId?: string;
  readonly traceparent?: string;
  readonly [key: string]: unknown;
}

/**
 * A domain event as the domain sees it: a past-tense type and its data. Unions of these are the
 * event types of a stream, e.g. `type OrderEvent = OrderCreated | OrderPaid`.
 */
export interface Event<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata?: EventMetadata;
}

/** What an append takes: a domain event plus the optional parts of the envelope. */
export type EventToAppend<E extends Event = Event> = E & {
  /** UUID; generated (UUIDv7) when absent. The idempotency key of the append. */
  readonly id?: string;
  /** Version of the data's schema; defaults to the registered latest, else 1. */
  readonly schemaVersion?: number;
  /** The conversation this event belongs to; defaults to the event's own id. */
  readonly correlationId?: string;
  /** The message that caused this one. */
  readonly causationId?: string;
};

/** Position in the global log: totally ordered, comparable with `<`; gaps may exist. */
export type Position = bigint;

/** Version of a stream: the number of the last event in it, 1-based; 0n when the stream is empty. */
export type StreamVersion = bigint;

/** An event as recorded by a store. It maps 1:1 onto CloudEvents 1.0 (see `toCloudEvent`). */
export type RecordedEvent<E extends Event = Event> = E & {
  readonly id: string;
  readonly schemaVersion: number;
  readonly streamId: string;
  readonly streamVersion: StreamVersion;
  readonly position: Position;
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  readonly source: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly metadata: EventMetadata;
};

/** Narrows a union of events to the member with the given type. */
export type EventOfType<E extends Event, T extends E['type']> = Extract<E, { type: T }>;
