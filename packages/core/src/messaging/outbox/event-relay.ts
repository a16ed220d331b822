/**
 * For an event-sourced service the event store is the outbox: this relay publishes the store's
 * log (or the categories and types a filter picks) to a transport, resuming from a checkpoint.
 *
 * It is a named subscription of the store, so it inherits the subscription's rules: one process
 * holds it at a time (a lease; the others stand by and take over), its checkpoint is written
 * under that lease, and transient store errors are waited out. The checkpoint moves only past
 * events the transport has confirmed, so the relay is at-least-once: after a crash between the
 * publish and the checkpoint, the next holder publishes those events again under the same
 * message ids (message id = event id), and consumers dedupe them with an inbox.
 *
 * Batching: a subscription hands over one event at a time and moves its checkpoint after a batch
 * of handler calls. The handler for the first event of a batch reads ahead the events after it
 * (the same filter, the same batch size) and publishes them together; the calls for the events
 * already published return at once. Each call still returns only once its event is confirmed,
 * so the checkpoint never passes an unpublished event.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import type { Event, Position, RecordedEvent } from '../../envelope/event.js';
import type { EventStore, LogFilter, Subscription, SubscriptionStart } from '../../event-store/event-store.js';
import type { FailurePolicy } from '../../projections/projection.js';
import { abortableSleep } from '../../subscriptions/subscription.js';
import type { SubscriptionEvent } from '../../subscriptions/events.js';
import type { OutgoingMessage } from '../message.js';
import type { Transport } from '../transport.js';
import { assertOutboxName } from './outbox.js';
import { assertTransport, positiveOption, publishInOrder } from './outbox-relay.js';
import {
  DEFAULT_RELAY_BATCH,
  DEFAULT_RELAY_LEASE_MS,
  DEFAULT_RELAY_POLL_MS,
  isTransientRelayError,
  MAX_RELAY_RETRY_DELAY_MS,
  reportRelayEvent,
  type RelayCommonOptions,
  type RelayEvent,
  type RelayStatus,
} from './relay-events.js';

/** Where the relay sends an event: a topic (events, fan-out) or a queue (commands). */
export type OutboxRoute =
  | { readonly topic: string; readonly queue?: undefined; readonly partitionKey?: string }
  | { readonly queue: string; readonly topic?: undefined; readonly partitionKey?: string };

export type EventOutboxRelayOptions<E extends Event = Event> = RelayCommonOptions & {
  readonly store: EventStore;
  readonly transport: Transport;
  /** The relay's name: its checkpoint and lease are `outbox-relay:<name>` in the store. */
  readonly name: string;
  /**
   * Where each event goes. `null` skips it (it is passed over, not published). The message's
   * partition key is the route's, else the event's stream id (per-stream order in every group).
   */
  readonly route: (event: RecordedEvent<E>) => OutboxRoute | null;
  /** Only these event types and stream prefixes (categories as `user-`). Default: the whole log. */
  readonly filter?: LogFilter;
  /** Where a relay with no checkpoint starts. Default `'start'`: the whole log is published. */
  readonly from?: SubscriptionStart;
  /**
   * A publish that fails with an error that is not transient is tried this many times, then the
   * relay stops (status `failed`, at the event; nothing is skipped). Transient transport and store
   * errors are retried without end. Default 5.
   */
  readonly maxAttempts?: number;
};

export interface EventOutboxRelay {
  readonly name: string;
  readonly status: RelayStatus;
  /** Position of the last event published and handed to the checkpoint, or null. */
  readonly position: Position | null;
  /** Events published by this relay (a batch sent again after a failure counts again). */
  readonly published: number;
  /** Resolves once every event up to `position` has been published. */
  waitFor(position: Position, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** Settles when the relay ends: resolves on `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

/** The prefix of the relay's subscription id in the store. */
export const RELAY_SUBSCRIPTION_PREFIX = 'outbox-relay:';

/**
 * Publishes the store's events to `transport` from a checkpoint, one active relay per name.
 *
 * @example
 * const relay = startOutboxRelay({ store, transport, name: 'users', filter: { streamPrefixes: ['user-'] },
 *   route: () => ({ topic: 'users' }) });
 */
export function startOutboxRelay<E extends Event = Event>(options: EventOutboxRelayOptions<E>): EventOutboxRelay {
  return new EventRelay(options);
}

class EventRelay<E extends Event> implements EventOutboxRelay {
  readonly name: string;
  readonly done: Promise<void>;
  readonly #subscription: Subscription;
  readonly #abort = new AbortController();
  readonly #options: EventOutboxRelayOptions<E>;
  readonly #batchSize: number;
  readonly #maxAttempts: number;
  /** Events at or below this position were published by this relay (confirmed). */
  #publishedUpTo: Position = -1n;
  #published = 0;
  #leading = false;

  constructor(options: EventOutboxRelayOptions<E>) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be { store, transport, name, route }');
    const { store, transport, name, route } = options;
    if (store === null || typeof store !== 'object' || typeof store.subscribe !== 'function') {
      throw new InvalidArgumentError('store', `must be an EventStore, got ${describeValue(store)}`);
    }
    assertTransport(transport);
    assertOutboxName(name, 'name');
    if (typeof route !== 'function') throw new InvalidArgumentError('route', 'must be a function (event) => { topic } | { queue } | null');
    this.#options = options;
    this.name = name;
    this.#batchSize = positiveOption(options.batchSize, DEFAULT_RELAY_BATCH, 'batchSize', true);
    this.#maxAttempts = positiveOption(options.maxAttempts, 5, 'maxAttempts', true);
    const failurePolicy: FailurePolicy = { onFailure: 'stop', maxAttempts: this.#maxAttempts, retryDelayMs: 100, maxRetryDelayMs: MAX_RELAY_RETRY_DELAY_MS };
    this.#subscription = store.subscribe<E>({
      subscriptionId: `${RELAY_SUBSCRIPTION_PREFIX}${name}`,
      handler: (event) => this.#handle(event),
      batchSize: this.#batchSize,
      leaseMs: positiveOption(options.leaseMs, DEFAULT_RELAY_LEASE_MS, 'leaseMs'),
      pollIntervalMs: positiveOption(options.pollIntervalMs, DEFAULT_RELAY_POLL_MS, 'pollIntervalMs'),
      failurePolicy,
      logger: options.logger === undefined ? console : options.logger,
      onEvent: (event) => this.#onSubscriptionEvent(event),
      ...(options.filter !== undefined && { filter: options.filter }),
      ...(options.from !== undefined && { from: options.from }),
    });
    this.done = this.#subscription.done.then(
      () => this.#report({ type: 'stopped', relay: this.name }),
      (error: unknown) => {
        this.#report({ type: 'error', relay: this.name, error, willRetry: false });
        throw error;
      },
    );
    this.done.catch(() => undefined);
  }

  get status(): RelayStatus {
    switch (this.#subscription.status) {
      case 'standby':
        return 'standby';
      case 'stopped':
        return 'stopped';
      case 'failed':
        return 'failed';
      default:
        return this.#leading || this.#subscription.position !== null ? 'running' : 'starting';
    }
  }

  get position(): Position | null {
    return this.#subscription.position;
  }

  get published(): number {
    return this.#published;
  }

  waitFor(position: Position, timeoutMs?: number): Promise<void> {
    return this.#subscription.waitFor(position, timeoutMs);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#subscription.stop();
    await this.done.catch(() => undefined);
  }

  #report(event: RelayEvent): void {
    reportRelayEvent(event, this.#options.onEvent, false);
  }

  #onSubscriptionEvent(event: SubscriptionEvent): void {
    if (event.type === 'leading') {
      this.#leading = true;
      this.#report({ type: 'leading', relay: this.name });
    } else if (event.type === 'standby') {
      this.#leading = false;
      this.#report({ type: 'standby', relay: this.name });
    } else if (event.type === 'retrying') {
      this.#report({ type: 'error', relay: this.name, error: event.error, willRetry: true });
    }
  }

  async #handle(event: RecordedEvent<E>): Promise<void> {
    if (event.position <= this.#publishedUpTo) return;
    const batch = await this.#readAhead(event);
    const items: { kind: 'topic' | 'queue'; name: string; message: OutgoingMessage }[] = [];
    for (const recorded of batch) {
      const route = this.#route(recorded);
      if (route !== null) items.push(route);
    }
    const signal = this.#abort.signal;
    for (let delay = 50; ; delay = Math.min(delay * 2, MAX_RELAY_RETRY_DELAY_MS)) {
      try {
        await publishInOrder(this.#options.transport, items);
        break;
      } catch (error) {
        // The subscription's failure policy counts the others; these are waited out here, unbounded.
        if (!isTransientRelayError(error) || signal.aborted) throw error;
        this.#report({ type: 'error', relay: this.name, error, willRetry: true });
        await abortableSleep(delay * (0.8 + Math.random() * 0.4), signal);
      }
    }
    const ids = items.map((item) => item.message.id!);
    this.#published += ids.length;
    if (ids.length > 0) this.#report({ type: 'published', relay: this.name, count: ids.length, ids });
    await this.#options.afterPublish?.(ids);
    this.#publishedUpTo = batch.at(-1)!.position;
  }

  /** `event` and the events after it the subscription will hand over next: one batch. */
  async #readAhead(event: RecordedEvent<E>): Promise<RecordedEvent<E>[]> {
    const batch: RecordedEvent<E>[] = [];
    for await (const next of this.#options.store.readAll<E>({
      fromPosition: event.position,
      maxCount: this.#batchSize,
      batchSize: this.#batchSize,
      ...(this.#options.filter !== undefined && { filter: this.#options.filter }),
    })) {
      batch.push(next);
    }
    // The store read it differently (an upcaster, a scavenged stream): publish what was handed over.
    if (batch[0]?.id !== event.id) return [event];
    batch[0] = event;
    return batch;
  }

  #route(event: RecordedEvent<E>): { kind: 'topic' | 'queue'; name: string; message: OutgoingMessage } | null {
    const route = this.#options.route(event);
    if (route === null) return null;
    if (route === undefined || typeof route !== 'object' || (route.topic === undefined) === (route.queue === undefined)) {
      throw new InvalidArgumentError('route', `must return { topic } or { queue } (or null to skip) for ${event.type} at position ${event.position}, got ${describeValue(route)}`);
    }
    const kind = route.topic !== undefined ? 'topic' : 'queue';
    const name = (route.topic ?? route.queue)!;
    assertOutboxName(name, `route(${event.type}).${kind}`);
    return { kind, name, message: messageOf(event, route.partitionKey) };
  }
}

/** The recorded event as a message: its id, type, data and metadata, its conversation, and its stream as subject. */
export function messageOf(event: RecordedEvent, partitionKey?: string): OutgoingMessage {
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    schemaVersion: event.schemaVersion,
    correlationId: event.correlationId,
    ...(event.causationId !== null && { causationId: event.causationId }),
    subject: event.streamId,
    partitionKey: partitionKey ?? event.streamId,
  };
}
