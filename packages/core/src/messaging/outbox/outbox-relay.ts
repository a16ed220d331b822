/**
 * The state-based outbox's relay: moves committed outbox rows to the transport, oldest first,
 * and deletes them once the transport has confirmed them. One relay per outbox name is active
 * at a time (a lease in the store); the others stand by and take over when it stops or its lease
 * runs out. Deletion is fenced by the lease, so a relay that lost its lease deletes nothing.
 *
 * At least once: a relay that dies after the transport confirmed a batch and before deleting it
 * leaves the rows, and the next relay sends them again with the same ids — consumers dedupe
 * them with an inbox.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import { uuidv7 } from '../../envelope/uuid.js';
import { abortableSleep } from '../../subscriptions/subscription.js';
import type { OutgoingMessage } from '../message.js';
import type { Transport } from '../transport.js';
import { outgoingFromStored, type OutboxRecord, type OutboxStorage } from './outbox.js';
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

export type OutboxRelayOptions = RelayCommonOptions & {
  /** A failing publish that is not transient is tried this many times, then the relay stops (status `failed`; the rows stay). Default 5. */
  readonly maxAttempts?: number;
};

export interface OutboxRelay {
  /** The outbox's name. */
  readonly name: string;
  readonly status: RelayStatus;
  /** Messages this relay has published and deleted. */
  readonly relayed: number;
  /** Resolves once the outbox has no rows left (everything committed so far was relayed). */
  waitForEmpty(timeoutMs?: number): Promise<void>;
  /** Stops after the batch in hand; gives the lease up. */
  stop(): Promise<void>;
  /** Settles when the relay ends: resolves on `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

/** Starts the relay of `storage` (what an adapter's `outbox.startRelay` calls). */
export function relayOutbox(storage: OutboxStorage, transport: Transport, options: OutboxRelayOptions = {}): OutboxRelay {
  return new StateOutboxRelay(storage, transport, options);
}

export function positiveOption(value: number | undefined, fallback: number, name: string, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isSafeInteger(value))) {
    throw new InvalidArgumentError(name, `must be a positive ${integer ? 'integer' : 'number'}, got ${describeValue(value)}`);
  }
  return value;
}

export function assertTransport(transport: unknown): asserts transport is Transport {
  if (transport === null || typeof transport !== 'object' || typeof (transport as Transport).publish !== 'function' || typeof (transport as Transport).send !== 'function') {
    throw new InvalidArgumentError('transport', `must be a Transport (createTransport, a SQLite, PostgreSQL, NATS or RabbitMQ transport), got ${describeValue(transport)}`);
  }
}

/** Publishes `items` in order: consecutive ones with one destination go in one call. */
export async function publishInOrder(transport: Transport, items: readonly { readonly kind: 'topic' | 'queue'; readonly name: string; readonly message: OutgoingMessage }[]): Promise<void> {
  for (let start = 0; start < items.length; ) {
    const { kind, name } = items[start]!;
    let end = start + 1;
    while (end < items.length && items[end]!.kind === kind && items[end]!.name === name) end++;
    const messages = items.slice(start, end).map((item) => item.message);
    if (kind === 'topic') await transport.publish(name, messages);
    else await transport.send(name, messages);
    start = end;
  }
}

class StateOutboxRelay implements OutboxRelay {
  readonly name: string;
  readonly done: Promise<void>;
  #status: RelayStatus = 'starting';
  #relayed = 0;
  #emptyWaiters = new Set<() => void>();
  readonly #abort = new AbortController();
  readonly #holder = uuidv7();
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxAttempts: number;

  constructor(
    private readonly storage: OutboxStorage,
    private readonly transport: Transport,
    private readonly options: OutboxRelayOptions,
  ) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    assertTransport(transport);
    this.name = storage.name;
    this.#batchSize = positiveOption(options.batchSize, DEFAULT_RELAY_BATCH, 'batchSize', true);
    this.#leaseMs = positiveOption(options.leaseMs, DEFAULT_RELAY_LEASE_MS, 'leaseMs');
    this.#pollMs = positiveOption(options.pollIntervalMs, DEFAULT_RELAY_POLL_MS, 'pollIntervalMs');
    this.#maxAttempts = positiveOption(options.maxAttempts, 5, 'maxAttempts', true);
    this.done = this.#run();
    this.done.catch(() => undefined);
  }

  get status(): RelayStatus {
    return this.#status;
  }

  get relayed(): number {
    return this.#relayed;
  }

  async waitForEmpty(timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    while (!(await this.#isEmpty())) {
      if (this.#status === 'stopped' || this.#status === 'failed') {
        throw new InvalidArgumentError('relay', `is ${this.#status}; ${await this.storage.count()} messages are still in the outbox ${this.name}`);
      }
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) throw new InvalidArgumentError('timeoutMs', `passed (${timeoutMs} ms) with ${await this.storage.count()} messages still in the outbox ${this.name}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, this.#pollMs));
        const waiter = (): void => done();
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#emptyWaiters.add(waiter);
      });
    }
  }

  async #isEmpty(): Promise<boolean> {
    return (await this.storage.count()) === 0;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }

  #report(event: RelayEvent): void {
    reportRelayEvent(event, this.options.onEvent, this.options.logger);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let epoch: bigint | null = null;
    let renewedAt = 0;
    let failures = 0;
    let delay = 50;
    try {
      while (!signal.aborted) {
        try {
          if (epoch === null || performance.now() - renewedAt >= this.#leaseMs / 3) {
            const held: bigint | null = epoch;
            epoch = await this.storage.acquire(this.#holder, this.#leaseMs);
            renewedAt = performance.now();
            if (epoch === null) {
              if (this.#status !== 'standby') {
                this.#status = 'standby';
                this.#report({ type: 'standby', relay: this.name });
              }
              await abortableSleep(Math.min(this.#leaseMs / 3, 1_000), signal);
              continue;
            }
            if (held !== epoch) {
              this.#status = 'running';
              this.#report({ type: 'leading', relay: this.name });
            }
          }
          const rows = await this.storage.peek(this.#batchSize);
          if (rows.length === 0) {
            this.#wakeEmptyWaiters();
            await this.storage.waitForRows(Math.min(this.#pollMs, this.#leaseMs / 3), signal);
            continue;
          }
          await this.#publish(rows);
          const ids = rows.map((row) => row.message.id);
          this.#report({ type: 'published', relay: this.name, count: rows.length, ids });
          await this.options.afterPublish?.(ids);
          if (!(await this.storage.remove({ holder: this.#holder, epoch }, rows.map((row) => row.seq)))) {
            // Another relay holds the outbox now; it sends these again (same ids).
            epoch = null;
            continue;
          }
          this.#relayed += rows.length;
          failures = 0;
          delay = 50;
        } catch (error) {
          if (signal.aborted) break;
          const transient = isTransientRelayError(error);
          if (!transient && ++failures >= this.#maxAttempts) throw error;
          this.#report({ type: 'error', relay: this.name, error, willRetry: true });
          await abortableSleep(delay * (0.8 + Math.random() * 0.4), signal);
          delay = Math.min(delay * 2, MAX_RELAY_RETRY_DELAY_MS);
        }
      }
      this.#status = 'stopped';
      this.#report({ type: 'stopped', relay: this.name });
    } catch (error) {
      this.#status = 'failed';
      this.#report({ type: 'error', relay: this.name, error, willRetry: false });
      throw error;
    } finally {
      this.#wakeEmptyWaiters();
      if (epoch !== null) await this.storage.release(this.#holder).catch(() => undefined);
    }
  }

  async #publish(rows: readonly OutboxRecord[]): Promise<void> {
    await publishInOrder(
      this.transport,
      rows.map((row) => ({ kind: row.message.destination.kind, name: row.message.destination.name, message: outgoingFromStored(row.message) })),
    );
  }

  #wakeEmptyWaiters(): void {
    for (const wake of this.#emptyWaiters) wake();
    this.#emptyWaiters.clear();
  }
}
