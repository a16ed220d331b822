/**
 * Dead letters of a transport: messages a consumer gave up on, kept with the original envelope
 * (or the raw bytes, when it could not be read), the reason and the attempts, until a person
 * redrives or purges them. Nothing a consumer fails on is dropped.
 */
import type { ConsumeSource, MessageEnvelope } from './message.js';

/** Why a message was dead-lettered. */
export type DeadLetterReason =
  /** The handler kept failing until the failure policy's `maxAttempts`. */
  | 'max-attempts'
  /** The handler called `context.deadLetter(reason)`. */
  | 'rejected'
  /** Not a CloudEvent, not JSON, or missing required attributes. */
  | 'undecodable'
  /** Its data failed the schema registered for its type and version. */
  | 'invalid-schema'
  /** No handler for its type (and the consumer's `unhandled` option is `'dead-letter'`). */
  | 'unknown-type';

export interface DeadLetter {
  /** The dead letter's own id (the message id may repeat across consumers). */
  readonly id: string;
  /** The original envelope; `null` when it could not be decoded (then see `raw`). */
  readonly message: MessageEnvelope | null;
  /** The bytes as received, when the message could not be decoded. */
  readonly raw: { readonly headers: Readonly<Record<string, string>>; readonly body: string } | null;
  /** The queue, or topic and group, it was consumed from; redrive sends it back there. */
  readonly source: ConsumeSource;
  /** The consumer that gave up: the queue name, or the group name. */
  readonly consumer: string;
  readonly reason: DeadLetterReason;
  /** `name: message` of the last error. */
  readonly error: string;
  readonly stack: string | null;
  readonly attempts: number;
  /** ISO times of the first and the last failed attempt. */
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
}

/** Which dead letters an operation applies to; fields combine with AND. An empty filter matches all. */
export interface DeadLetterFilter {
  readonly ids?: readonly string[];
  readonly consumer?: string;
  readonly source?: ConsumeSource;
  readonly type?: string;
  readonly reason?: DeadLetterReason;
  /** Dead-lettered at or before this ISO time. */
  readonly before?: string;
  /** At most this many (oldest first). */
  readonly limit?: number;
}

export interface DeadLetterQueue {
  /** Dead letters matching `filter`, oldest first. */
  list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]>;
  get(id: string): Promise<DeadLetter | null>;
  /**
   * Sends matching dead letters back to where they were consumed from, attempts reset, and
   * removes them here; returns how many. Interrupted, a dead letter is either still here or
   * back on its queue — never both, never neither (brokers: see the transport's docs).
   */
  redrive(filter?: DeadLetterFilter): Promise<number>;
  /** Deletes matching dead letters for good; returns how many. */
  purge(filter?: DeadLetterFilter): Promise<number>;
}
