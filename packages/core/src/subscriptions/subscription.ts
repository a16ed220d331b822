/**
 * Catch-up-then-live subscriptions over any store's `readAll`. There is one loop for both
 * phases — read from the last handled position until the log runs dry, then wait for a wake-up
 * or the poll interval — so nothing can fall into a gap between "catch-up" and "live".
 *
 * Failures are never silent: a handler that throws is retried under the failure policy (the
 * projections' one), then the subscription stops (status `failed`, `done` rejects) or
 * dead-letters the event; each retry, failure and dead letter is an `onEvent` event and a log
 * line. A transient store error (connection lost, store busy) is reported the same way and
 * waited out with backoff, reading on from the last event handled, so nothing is skipped.
 *
 * A named subscription on a store with leases is held by one process at a time: the others
 * stand by, and take over when the holder stops or its lease runs out. Its checkpoint is
 * written under the lease's epoch, so a process that lost the lease cannot move it.
 */
import { assertSubscriptionId } from '../event-store/checkpoint.js';
import { InvalidArgumentError, SubscriptionFailedError, SubscriptionStoppedError, SubscriptionWaitTimeoutError } from '../envelope/errors.js';
import { describeValue } from '../envelope/describe-value.js';
import type { Event, Position, RecordedEvent } from '../envelope/event.js';
import type {
  CheckpointStore,
  DeadLetterRetryResult,
  ReadAllOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionStatus,
  WholeEvents,
} from '../event-store/event-store.js';
import { failureRecord } from '../projections/failure.js';
import { normalizeBatchSize, normalizeFilter, normalizePosition } from '../event-store/read-options.js';
import type { SubscriptionDeadLetters } from './dead-letters.js';
import { reportSubscriptionEvent, type SubscriptionEvent } from './events.js';
import type { LeaseInfo, LeaseStore } from './lease.js';
import { resolveFailurePolicy, retryDelay, type ResolvedFailurePolicy } from './policy.js';
import { isTransientStoreError } from './transient.js';
import { uuidv7 } from '../envelope/uuid.js';

export interface SubscriptionSource {
  /** Subscriptions hand whole events to their handlers: they never ask for `fields`. */
  readAll<E extends Event>(options: ReadAllOptions & WholeEvents): AsyncIterable<RecordedEvent<E>>;
  /** Position up to which the log is complete for readers (no earlier event can still appear). */
  headPosition(): Promise<Position>;
  readonly checkpoints: CheckpointStore;
  /** Resolves on an append wake-up, after `timeoutMs`, or when `signal` aborts. */
  waitForAppend(timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** With leases, a named subscription is held by one process at a time. */
  readonly leases?: LeaseStore;
  /** Where the `dead-letter` policy records events; without it that policy is refused. */
  readonly deadLetters?: SubscriptionDeadLetters;
}

/** What consumer groups add for their partitions' subscriptions. */
export interface InternalSubscribeOptions {
  /** Events of the log this subscription handles; the others are only passed over. */
  readonly accept?: (event: RecordedEvent) => boolean;
  /** The name in events and log lines. Default: the subscription id. */
  readonly reportAs?: string;
}

const MAX_STORE_RETRY_DELAY_MS = 5_000;
const DEFAULT_LEASE_MS = 10_000;

export function startSubscription<E extends Event>(
  source: SubscriptionSource,
  options: SubscribeOptions<E>,
  internal: InternalSubscribeOptions = {},
): Subscription {
  return new LogSubscription(source, options, internal);
}

/** Thrown inside the loop when this process no longer holds the subscription's lease. */
class LeaseLost extends Error {}

type Outcome = 'handled' | 'dead-lettered' | 'aborted';

class LogSubscription<E extends Event> implements Subscription {
  readonly subscriptionId: string | undefined;
  readonly done: Promise<void>;
  readonly live: Promise<void>;
  #position: Position | null = null;
  /** Everything at or below this position has been seen (handled, dead-lettered or filtered out). */
  #scanned: Position = -1n;
  #status: SubscriptionStatus = 'catching_up';
  #failure: unknown = undefined;
  #wentLive!: { resolve: () => void; reject: (error: unknown) => void };
  readonly #abort = new AbortController();
  readonly #waiters = new Set<{ position: Position; resolve: () => void; reject: (error: unknown) => void }>();
  readonly #source: SubscriptionSource;
  readonly #options: SubscribeOptions<E>;
  readonly #internal: InternalSubscribeOptions;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #policy: ResolvedFailurePolicy;
  readonly #leaseMs: number;
  readonly #holder = uuidv7();
  #lease: LeaseInfo | null = null;
  #leaseRenewedAt = 0;

  constructor(source: SubscriptionSource, options: SubscribeOptions<E>, internal: InternalSubscribeOptions) {
    this.#policy = checkSubscribeOptions(source, options);
    this.#source = source;
    this.#options = options;
    this.#internal = internal;
    this.subscriptionId = options.subscriptionId;
    this.#batchSize = normalizeBatchSize(options.batchSize);
    this.#pollIntervalMs = positive(options.pollIntervalMs, 250, 'pollIntervalMs');
    this.#leaseMs = positive(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs');
    this.live = new Promise<void>((resolve, reject) => {
      this.#wentLive = { resolve, reject };
    });
    this.live.catch(() => undefined);
    this.done = this.#run();
    // `done` is also observed through waitFor/stop; an unobserved rejection must not crash the process.
    this.done.catch(() => undefined);
  }

  get position(): Position | null {
    return this.#position;
  }

  get status(): SubscriptionStatus {
    return this.#status;
  }

  waitFor(position: Position, timeoutMs = 30_000): Promise<void> {
    if (this.#reached(position)) return Promise.resolve();
    if (this.#status === 'stopped') return Promise.reject(new SubscriptionStoppedError(this.#name));
    if (this.#status === 'failed') {
      return Promise.reject(new SubscriptionStoppedError(this.#name, 'it failed; see its `done` for the error', { cause: this.#failure }));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new SubscriptionWaitTimeoutError(this.#name, position, timeoutMs));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }

  async retryDeadLetters(): Promise<DeadLetterRetryResult> {
    const { subscriptionId } = this;
    const deadLetters = this.#source.deadLetters;
    if (subscriptionId === undefined || !deadLetters) return { handled: 0, failed: 0 };
    let handled = 0;
    let failed = 0;
    for (const letter of await deadLetters.list(subscriptionId)) {
      let event: RecordedEvent<E> | undefined;
      for await (const found of this.#source.readAll<E>({ fromPosition: letter.position, maxCount: 1 })) event = found;
      if (event === undefined || event.position !== letter.position || event.id !== letter.eventId) {
        // The event is no longer in the log (its stream was scavenged): nothing left to retry.
        failed++;
        continue;
      }
      try {
        await this.#options.handler(event, { subscriptionId });
        await deadLetters.discard(subscriptionId, letter.position);
        handled++;
      } catch (error) {
        const record = failureRecord(event, error, letter.attempts + 1);
        await deadLetters.record({ ...letter, error: record.error, attempts: record.attempts, failedAt: record.failedAt });
        failed++;
      }
    }
    return { handled, failed };
  }

  get #name(): string {
    return this.#internal.reportAs ?? this.subscriptionId ?? '(anonymous)';
  }

  #report(event: SubscriptionEvent): void {
    reportSubscriptionEvent(event, this.#options.onEvent, this.#options.logger);
  }

  #reached(position: Position): boolean {
    return this.#scanned >= position || (this.#position !== null && this.#position >= position);
  }

  #wakeWaiters(): void {
    for (const waiter of this.#waiters) {
      if (this.#reached(waiter.position)) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  get #leasing(): LeaseStore | undefined {
    return this.subscriptionId === undefined ? undefined : this.#source.leases;
  }

  get #leaseName(): string {
    return `subscription:${this.subscriptionId ?? ''}`;
  }

  /** Takes the lease, or stands by. True when this process holds it. */
  async #takeLease(leases: LeaseStore): Promise<boolean> {
    const epoch = await leases.acquire(this.#leaseName, this.#holder, this.#leaseMs);
    if (epoch === null) {
      if (this.#status !== 'standby') {
        this.#status = 'standby';
        this.#report({ type: 'standby', subscription: this.#name, holder: await leases.holder(this.#leaseName) });
      }
      return false;
    }
    this.#lease = { name: this.#leaseName, holder: this.#holder, epoch };
    this.#leaseRenewedAt = performance.now();
    this.#status = 'catching_up';
    this.#report({ type: 'leading', subscription: this.#name });
    return true;
  }

  /** Renews the lease when a third of it has gone by; throws LeaseLost when another process took it. */
  async #keepLease(): Promise<void> {
    const leases = this.#leasing;
    const lease = this.#lease;
    if (!leases || !lease || performance.now() - this.#leaseRenewedAt < this.#leaseMs / 3) return;
    const epoch = await leases.acquire(lease.name, lease.holder, this.#leaseMs);
    if (epoch !== lease.epoch) {
      if (epoch !== null) await leases.release(lease.name, lease.holder).catch(() => undefined);
      throw new LeaseLost();
    }
    this.#leaseRenewedAt = performance.now();
  }

  async #storeCheckpoint(position: Position): Promise<void> {
    const { subscriptionId } = this;
    if (subscriptionId === undefined) return;
    const leases = this.#leasing;
    if (!leases) return this.#source.checkpoints.store(subscriptionId, position);
    if (!this.#lease || !(await leases.storeCheckpoint(this.#lease, subscriptionId, position))) throw new LeaseLost();
  }

  async #run(): Promise<void> {
    const { subscriptionId } = this;
    const signal = this.#abort.signal;
    const leases = this.#leasing;
    let stored: Position | null = null;
    let from: Position | null = null;
    let storeDelay = this.#policy.retryDelayMs || 50;
    try {
      while (!signal.aborted) {
        try {
          if (leases && !this.#lease) {
            if (!(await this.#takeLease(leases))) {
              await abortableSleep(Math.min(this.#leaseMs / 3, 1_000), signal);
              continue;
            }
            from = null;
          }
          if (from === null) {
            stored = subscriptionId === undefined ? null : await this.#source.checkpoints.load(subscriptionId);
            from = stored === null ? await this.#startPosition() : stored + 1n;
            this.#position = stored;
            if (from > 0n && from - 1n > this.#scanned) this.#scanned = from - 1n;
          }
          const head = await this.#source.headPosition();
          let count = 0;
          for await (const event of this.#source.readAll<E>({
            fromPosition: from,
            maxCount: this.#batchSize,
            batchSize: this.#batchSize,
            ...(this.#options.filter && { filter: this.#options.filter }),
          })) {
            count++;
            await this.#keepLease();
            if (!this.#internal.accept || this.#internal.accept(event)) {
              const outcome = await this.#handle(event, signal);
              if (outcome === 'aborted') break;
              this.#position = event.position;
            }
            if (event.position > this.#scanned) this.#scanned = event.position;
            from = event.position + 1n;
            // Caught up with the head it saw before this batch: live, before anyone waiting is woken.
            if (event.position >= head) this.#goLive();
            this.#wakeWaiters();
            if (signal.aborted) break;
          }
          if (subscriptionId !== undefined && this.#position !== null && this.#position !== stored) {
            await this.#storeCheckpoint(this.#position);
            stored = this.#position;
          }
          storeDelay = this.#policy.retryDelayMs || 50;
          if (count < this.#batchSize && !signal.aborted) {
            // The log is exhausted up to `head`: everything up to it has been seen.
            if (head > this.#scanned) this.#scanned = head;
            this.#goLive();
            this.#wakeWaiters();
            const wait = leases ? Math.min(this.#pollIntervalMs, this.#leaseMs / 3) : this.#pollIntervalMs;
            await this.#source.waitForAppend(wait, signal);
            await this.#keepLease();
          }
        } catch (error) {
          if (error instanceof LeaseLost) {
            // Another process holds it now; it resumes from the checkpoint this one wrote last.
            this.#lease = null;
            from = null;
            continue;
          }
          if (!isTransientStoreError(error) || signal.aborted) throw error;
          this.#report({ type: 'error', subscription: this.#name, error, willRetry: true });
          // The store will come back; `from` still says where to read on (the checkpoint is written once it does).
          await abortableSleep(storeDelay, signal);
          storeDelay = Math.min(storeDelay * 2, MAX_STORE_RETRY_DELAY_MS);
        }
      }
      await this.#flush(stored);
      this.#status = 'stopped';
      this.#rejectWaiters(new SubscriptionStoppedError(this.#name));
    } catch (error) {
      this.#status = 'failed';
      this.#failure = error;
      if (!(error instanceof SubscriptionFailedError)) this.#report({ type: 'error', subscription: this.#name, error, willRetry: false });
      await this.#flush(stored).catch(() => undefined);
      this.#rejectWaiters(error);
      throw error;
    } finally {
      if (this.#lease && leases) await leases.release(this.#lease.name, this.#lease.holder).catch(() => undefined);
      this.#lease = null;
    }
  }

  #goLive(): void {
    if (this.#status === 'live') return;
    this.#status = 'live';
    this.#report({ type: 'live', subscription: this.#name, position: this.#position });
    this.#wentLive.resolve();
  }

  /** Writes the checkpoint of events handled since the last one (on stop or failure). */
  async #flush(stored: Position | null): Promise<void> {
    if (this.subscriptionId === undefined || this.#position === null || this.#position === stored) return;
    if (this.#leasing && !this.#lease) return;
    await this.#storeCheckpoint(this.#position).catch((error: unknown) => {
      if (!(error instanceof LeaseLost)) throw error;
    });
  }

  /** Where a subscription with no checkpoint starts; `'now'` also stores the head as a named subscription's checkpoint. */
  async #startPosition(): Promise<Position> {
    const { from, fromPosition } = this.#options;
    if (from === 'now') {
      const head = await this.#source.headPosition();
      if (this.subscriptionId !== undefined) await this.#storeCheckpoint(head);
      return head + 1n;
    }
    if (typeof from === 'object') return from.position;
    return fromPosition ?? 0n;
  }

  async #handle(event: RecordedEvent<E>, signal: AbortSignal): Promise<Outcome> {
    const context = { subscriptionId: this.subscriptionId };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.handler(event, context);
        return 'handled';
      } catch (cause) {
        if (attempt >= this.#policy.maxAttempts) return this.#giveUp(event, cause, attempt);
        const delayMs = retryDelay(this.#policy, attempt);
        this.#report({
          type: 'retrying',
          subscription: this.#name,
          position: event.position,
          eventId: event.id,
          attempts: attempt,
          delayMs,
          error: cause,
        });
        await abortableSleep(delayMs, signal);
        if (signal.aborted) return 'aborted';
      }
    }
  }

  async #giveUp(event: RecordedEvent<E>, cause: unknown, attempts: number): Promise<Outcome> {
    const failure = failureRecord(event, cause, attempts);
    const { subscriptionId } = this;
    const deadLetters = this.#source.deadLetters;
    if (this.#policy.onFailure === 'dead-letter' && subscriptionId !== undefined && deadLetters) {
      const deadLetter = {
        subscriptionId,
        position: event.position,
        eventId: event.id,
        eventType: event.type,
        streamId: event.streamId,
        error: failure.error,
        attempts,
        failedAt: failure.failedAt,
      };
      await deadLetters.record(deadLetter);
      this.#report({ type: 'dead-lettered', subscription: this.#name, deadLetter });
      return 'dead-lettered';
    }
    this.#report({ type: 'failed', subscription: this.#name, failure });
    throw new SubscriptionFailedError(this.#name, event.position, attempts, { cause });
  }

  #rejectWaiters(error: unknown): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
    this.#wentLive.reject(error);
  }
}

/** Checks `options` as `subscribe` does, before anything runs or is written; returns the resolved failure policy. */
export function checkSubscribeOptions<E extends Event>(source: Pick<SubscriptionSource, 'deadLetters'>, options: SubscribeOptions<E>): ResolvedFailurePolicy {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object with a handler');
  if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
  // Checked before anything is written (its lease is taken before its checkpoint is read).
  if (options.subscriptionId !== undefined) assertSubscriptionId(options.subscriptionId);
  normalizeFilter(options.filter);
  normalizePosition(options.fromPosition, 'fromPosition');
  checkStart(options);
  const policy = resolveFailurePolicy(options.failurePolicy, { maxAttempts: options.maxAttempts, retryDelayMs: options.retryDelayMs });
  if (policy.onFailure === 'dead-letter') {
    if (options.subscriptionId === undefined) {
      throw new InvalidArgumentError('failurePolicy', "onFailure 'dead-letter' needs a subscriptionId: dead letters are kept per named subscription");
    }
    if (!source.deadLetters) throw new InvalidArgumentError('failurePolicy', "onFailure 'dead-letter' is not supported by this store");
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new InvalidArgumentError('onEvent', 'must be a function');
  normalizeBatchSize(options.batchSize);
  positive(options.pollIntervalMs, 250, 'pollIntervalMs');
  positive(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs');
  return policy;
}

function checkStart(options: Pick<SubscribeOptions, 'from' | 'fromPosition'>): void {
  const { from } = options;
  if (from === undefined) return;
  if (options.fromPosition !== undefined) throw new InvalidArgumentError('from', 'give either from or fromPosition, not both');
  if (from === 'start' || from === 'now') return;
  if (from !== null && typeof from === 'object') {
    normalizePosition(from.position, 'from.position');
    if (from.position === undefined) throw new InvalidArgumentError('from', 'must be { position } with a bigint position');
    return;
  }
  throw new InvalidArgumentError('from', `must be 'start', 'now' or { position }, got ${describeValue(from)}`);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(name, `must be a positive number, got ${describeValue(value)}`);
  return value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits `ms`, or less when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
