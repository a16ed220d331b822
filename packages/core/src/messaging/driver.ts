/**
 * What a transport adapter implements (`@eventloom/core/adapter`): storage and delivery only.
 * Everything else — preparing envelopes, inheriting correlation and causation, dispatch by type,
 * decoding and schema checks, retries with backoff and jitter, per-key order inside one
 * consumer, concurrency, back-pressure, dead-lettering, graceful shutdown, tracing — is core's
 * consumer engine (`createTransport`), so each rule is written once and holds on every transport.
 */
import type { DeadLetter, DeadLetterQueue } from './dead-letters.js';
import type { ConsumeSource, Destination, MessageEnvelope } from './message.js';
import type { TransportCapabilities } from './transport.js';

/** A message ready to store: the full envelope and when it becomes visible (`null`: now). */
export interface PreparedMessage {
  readonly envelope: MessageEnvelope;
  readonly deliverAt: Date | null;
  /** `envelope.data` and `envelope.metadata` as JSON, as the checks wrote them: drivers store these instead of writing the JSON again. */
  readonly dataJson?: string;
  readonly metadataJson?: string;
}

/** What a receiver hands the engine: a claimed message, decoded or raw. */
export type ReceivedMessage = {
  /** The adapter's handle for ack/retry/deadLetter (a row id, a broker message). */
  readonly token: unknown;
  /** Deliveries so far, this one included (1 on the first). */
  readonly deliveryCount: number;
  /** When the first failed attempt was, if the transport remembers one. */
  readonly firstFailedAt: string | null;
  readonly partitionKey: string | null;
} & (
  | { readonly kind: 'envelope'; readonly envelope: MessageEnvelope }
  /** Bytes as they arrived (brokers): the engine decodes them with the CloudEvents codec, dead-lettering what it cannot read. */
  | { readonly kind: 'raw'; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array }
);

/** A dead letter as the engine writes it; the adapter gives it its id. */
export type DeadLetterDraft = Omit<DeadLetter, 'id'>;

export interface ReceiverOptions {
  /** The queue name, or the group name. */
  readonly consumer: string;
  readonly visibilityTimeoutMs: number;
  /** Messages claimed and not yet acked, at most. */
  readonly prefetch: number;
}

export interface Receiver {
  /**
   * Up to `max` messages claimed for this consumer (invisible to others for the visibility
   * timeout). Waits until at least one is available or `signal` aborts (then returns []).
   * Per-key order: while a message with a partition key is claimed or waiting for a retry,
   * no later message with that key is handed out, to this consumer or any other of its group.
   */
  receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]>;
  /** Done with: removed for this consumer. Batched by the engine. */
  ack(messages: readonly ReceivedMessage[]): Promise<void>;
  /**
   * Failed, to be tried again after `delayMs` with the attempt counted. `'redelivered'` when the
   * transport will deliver it again; `'hold'` when it cannot keep the key's order that way, so the
   * engine keeps it (lease extended), waits and runs the handler again itself.
   */
  retry(message: ReceivedMessage, delayMs: number, error: string): Promise<'redelivered' | 'hold'>;
  /** Moves the message to the dead-letter queue, in one step with removing it from here where the storage allows. */
  deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter>;
  /** Gives messages back unhandled, without counting an attempt (shutdown). */
  release(messages: readonly ReceivedMessage[]): Promise<void>;
  /** Keeps messages invisible to others for `ms` more (a long handler). */
  extend(messages: readonly ReceivedMessage[], ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface TransportDriver {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  /**
   * False when the driver never reads `PreparedMessage.dataJson`/`metadataJson` (the in-memory
   * transport handing over the sent objects): sends then skip writing the JSON text, the checks
   * unchanged. Default true.
   */
  readonly needsJson?: boolean;
  /**
   * Stores messages durably, all or none: on a queue, once; on a topic, once per group that
   * exists. Resolves when stored (committed, confirmed, acknowledged).
   */
  enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void>;
  /** Creates queues and topic groups (idempotent); a conflict with what exists is a typed error. */
  declare(sources: readonly ConsumeSource[]): Promise<void>;
  openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver>;
  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean>;
  readonly deadLetters: DeadLetterQueue;
  close(): Promise<void>;
}
