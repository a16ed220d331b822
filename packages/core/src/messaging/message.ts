/**
 * Messages: what services send each other. The same envelope as the store's events (id, type,
 * schemaVersion, time, source, correlation, causation, data, metadata), minus the log's
 * positions, plus the routing a transport needs (partition key, delivery time).
 */
import type { Event, EventMetadata } from '../envelope/event.js';

/**
 * What `send` and `publish` take: a typed message plus the optional parts of the envelope.
 * Commands (`send`) and events (`publish`) are both messages.
 */
export type OutgoingMessage<M extends Event = Event> = M & {
  /** UUID; generated (UUIDv7) when absent. Consumers dedupe by it (the inbox), brokers too where they can. */
  readonly id?: string;
  readonly schemaVersion?: number;
  /** The conversation; defaults to the handled message's when sent from a handler, else the message's own id. */
  readonly correlationId?: string;
  /** The message that caused this one; set to the handled message's id when sent from a handler. */
  readonly causationId?: string;
  /** What the message is about, e.g. the stream `order-123` (CloudEvents `subject`). */
  readonly subject?: string;
  /** Messages with the same key are handled in order within a consumer group; different keys in parallel. */
  readonly partitionKey?: string;
  /** Deliver no earlier than this time (a `Date` or an ISO string). */
  readonly deliverAt?: Date | string;
  /** Deliver no earlier than this many milliseconds from now. Not with `deliverAt`. */
  readonly delayMs?: number;
};

/** A message as it travels: every envelope field filled in. Maps 1:1 onto CloudEvents 1.0. */
export type MessageEnvelope<M extends Event = Event> = M & {
  readonly id: string;
  readonly schemaVersion: number;
  /** ISO 8601, UTC, milliseconds: when it was sent. */
  readonly time: string;
  /** The service that sent it. */
  readonly source: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly subject: string | null;
  readonly partitionKey: string | null;
  readonly metadata: EventMetadata;
};

/** Where a message goes: a queue (one consumer handles each message) or a topic (every group gets each). */
export type Destination =
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'topic'; readonly name: string };

/** What a consumer reads: a queue, or a topic through a named group (competing consumers inside it). */
export type ConsumeSource =
  | { readonly queue: string }
  | { readonly topic: string; readonly group: string };

/** A message handed to a handler. */
export type DeliveredMessage<M extends Event = Event> = MessageEnvelope<M> & {
  /** 1 on the first delivery; counts every delivery, crashed consumers' included. */
  readonly attempt: number;
  readonly destination: Destination;
};

/** What `send`/`publish` return per message: its id, and when it becomes visible. */
export interface SentMessage {
  readonly id: string;
  readonly deliverAt: string | null;
}
