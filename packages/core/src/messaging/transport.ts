/**
 * The transport contract: how services talk. `send` puts commands on a queue (one handler each,
 * competing consumers); `publish` puts events on a topic (every group gets each, competing
 * consumers inside a group). Delivery is at-least-once everywhere; handlers are made
 * effectively-once by the inbox. Every transport (memory, SQLite, PostgreSQL, NATS, RabbitMQ)
 * implements it and passes the one conformance suite in `@eventloom/testing`.
 */
import type { Event, EventOfType } from '../envelope/event.js';
import type { FailurePolicy } from '../projections/projection.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import type { DeadLetter, DeadLetterQueue } from './dead-letters.js';
import type { ConsumeSource, DeliveredMessage, OutgoingMessage, SentMessage } from './message.js';

export interface SendOptions {
  /** Applied to every message that does not say: deliver no earlier than this. */
  readonly deliverAt?: Date | string;
  readonly delayMs?: number;
}

/**
 * What a handler can do besides returning (which acks): send or publish with the conversation
 * carried on (correlation id inherited, causation id = the handled message's id), or decide the
 * message's fate explicitly.
 */
export interface MessageContext {
  readonly transport: Transport;
  /** Aborted when the consumer is stopping and the drain time is over: finish or give up quickly. */
  readonly signal: AbortSignal;
  send(queue: string, messages: OutgoingMessage | readonly OutgoingMessage[], options?: SendOptions): Promise<readonly SentMessage[]>;
  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[], options?: SendOptions): Promise<readonly SentMessage[]>;
  /** Not now: hand the message back to be delivered again after `delayMs` (counts as an attempt). */
  retry(options?: { readonly delayMs?: number }): void;
  /** Never: park the message in the dead-letter queue with this reason. */
  deadLetter(reason: string): void;
}

export type MessageHandler<M extends Event> = (message: DeliveredMessage<M>, context: MessageContext) => Promise<void> | void;

/**
 * One optional handler per member of the union `M`, keyed by its type (as projections are).
 * For an `M` whose type is any string (the default `Event`), any key, each handler getting `M`:
 * narrowing `Event` to one literal type would give handlers `never`.
 */
export type MessageHandlers<M extends Event> = {
  readonly [T in M['type']]?: MessageHandler<string extends M['type'] ? M : EventOfType<M, T>>;
};

/** The failure policy of consumers: projections' and subscriptions' shape, with jitter. Default `onFailure: 'dead-letter'`. */
export interface MessageFailurePolicy extends Omit<FailurePolicy, 'onFailure'> {
  /** After the last attempt. Consumers only dead-letter: a stopped queue helps nobody. */
  readonly onFailure?: 'dead-letter';
  /** Fraction of each retry delay randomised (0–1), so retries of many messages spread out. Default 0.2. */
  readonly jitter?: number;
}

export interface ConsumerOptions {
  /** Handlers running at once. Default 1. Messages with one partition key never run at once. */
  readonly concurrency?: number;
  /**
   * Messages taken from the transport ahead of the handlers, at most (handlers' in-flight
   * included). Bounds memory with a slow handler. Default `max(concurrency * 2, 16)`.
   */
  readonly prefetch?: number;
  readonly failurePolicy?: MessageFailurePolicy;
  /**
   * How long a received message stays invisible to other consumers while it is handled; a
   * consumer that dies gives its messages back after this. Renewed while the handler runs.
   * Default 30 s.
   */
  readonly visibilityTimeoutMs?: number;
  /** Messages of a type without a handler: dead-lettered (default) or acknowledged and skipped. */
  readonly unhandled?: 'dead-letter' | 'ack';
  /** Validates each message's data against its registered schema (and upcasts); failures are dead-lettered. */
  readonly schemas?: SchemaRegistry;
  readonly onEvent?: (event: ConsumerEvent) => void;
  /** Where failures are written. Default `console`; `false` for silence (the events still go to `onEvent`). */
  readonly logger?: ConsumerLogger | false;
}

export interface ConsumerLogger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

export type ConsumerEvent =
  | { readonly type: 'ready'; readonly consumer: string }
  | { readonly type: 'retrying'; readonly consumer: string; readonly messageId: string; readonly attempt: number; readonly delayMs: number; readonly error: unknown }
  | { readonly type: 'dead-lettered'; readonly consumer: string; readonly deadLetter: DeadLetter }
  /** The transport failed (connection lost…); `willRetry` when the consumer keeps trying. */
  | { readonly type: 'error'; readonly consumer: string; readonly error: unknown; readonly willRetry: boolean }
  | { readonly type: 'stopped'; readonly consumer: string };

export type ConsumerStatus = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface Consumer {
  /** The queue name, or the group name of a topic consumer. */
  readonly name: string;
  readonly status: ConsumerStatus;
  /** Resolves when the consumer receives (topology declared, group joined); rejects if it cannot start. */
  readonly ready: Promise<void>;
  /** Resolves when the consumer has stopped; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /** Messages handled to the end (acked, retried or dead-lettered) since start. */
  readonly handled: number;
  /**
   * Stops receiving, lets in-flight handlers finish for up to `drainMs` (default 10 s), then
   * aborts their signal and hands unfinished messages back to the transport (they are
   * delivered again). Resolves when stopped.
   */
  stop(options?: { readonly drainMs?: number }): Promise<void>;
}

/** What a transport can do beyond the contract; the conformance suite reads it. */
export interface TransportCapabilities {
  /** `cancelScheduled` works (a delayed message can be withdrawn before it is delivered). */
  readonly cancelScheduled: boolean;
}

export interface Transport {
  /** e.g. `memory`, `sqlite`, `postgres`, `nats`, `rabbitmq`. */
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  /** Point-to-point: each message is handled by one consumer of the queue. Resolves once stored durably. */
  send<M extends Event>(queue: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]>;
  /** Fan-out: every group of the topic gets each message. Resolves once stored durably. */
  publish<M extends Event>(topic: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]>;
  /**
   * Starts a consumer. A topic group exists from its first `consume` (or `declare`) on: it
   * gets the messages published from then on. Name the union (`consume<UserEvent>(…)`) for
   * typed handlers; without it each handler gets a plain `Event`.
   */
  consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer;
  /** Creates queues and topic groups ahead of consumers, so nothing published before they start is missed. Idempotent. */
  declare(sources: readonly ConsumeSource[]): Promise<void>;
  /** Withdraws a delayed message not yet delivered; false when it is gone or delivered. Throws where `capabilities.cancelScheduled` is false. */
  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean>;
  readonly deadLetters: DeadLetterQueue;
  /** Stops its consumers (as `stop()` does) and releases connections. */
  close(): Promise<void>;
}
