/**
 * Catch-up-then-live subscriptions over any store's `readAll`. There is one loop for both
 * phases — read from the last handled position until the log runs dry, then wait for a wake-up
 * or the poll interval — so nothing can fall into a gap between "catch-up" and "live".
 * A transient store error (connection lost, store busy) does not end the subscription: it waits
 * with backoff and reads on from the last event it handled, so nothing is skipped or repeated.
 */
import { InvalidArgumentError, SubscriptionFailedError, SubscriptionStoppedError, SubscriptionWaitTimeoutError } from './errors.js';
import { describeValue } from './describe-value.js';
import type { Event, Position, RecordedEvent } from './event.js';
import type {
  CheckpointStore,
  ReadAllOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionStatus,
} from './event-store.js';
import { normalizeBatchSize, normalizeFilter, normalizePosition } from './read-options.js';
import { isTransientStoreError } from './transient.js';

export interface SubscriptionSource {
  readAll<E extends Event>(options: ReadAllOptions): AsyncIterable<RecordedEvent<E>>;
  /** Position up to which the log is complete for readers (no earlier event can still appear). */
  headPosition(): Promise<Position>;
  readonly checkpoints: CheckpointStore;
  /** Resolves on an append wake-up, after `timeoutMs`, or when `signal` aborts. */
  waitForAppend(timeoutMs: number, signal: AbortSignal): Promise<void>;
}

const MAX_RETRY_DELAY_MS = 5_000;

export function startSubscription<E extends Event>(source: SubscriptionSource, options: SubscribeOptions<E>): Subscription {
  return new LogSubscription(source, options);
}

class LogSubscription<E extends Event> implements Subscription {
  readonly subscriptionId: string | undefined;
  readonly done: Promise<void>;
  #position: Position | null = null;
  /** Everything at or below this position has been seen (handled or filtered out). */
  #scanned: Position = -1n;
  #status: SubscriptionStatus = 'catching_up';
  #failure: unknown = undefined;
  readonly #abort = new AbortController();
  readonly #waiters = new Set<{ position: Position; resolve: () => void; reject: (error: unknown) => void }>();
  readonly #source: SubscriptionSource;
  readonly #options: SubscribeOptions<E>;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;

  constructor(source: SubscriptionSource, options: SubscribeOptions<E>) {
    if (typeof options?.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    if (options.subscriptionId !== undefined && (typeof options.subscriptionId !== 'string' || options.subscriptionId === '')) {
      throw new InvalidArgumentError('subscriptionId', 'must be a non-empty string');
    }
    normalizeFilter(options.filter);
    normalizePosition(options.fromPosition, 'fromPosition');
    this.#source = source;
    this.#options = options;
    this.subscriptionId = options.subscriptionId;
    this.#batchSize = normalizeBatchSize(options.batchSize);
    this.#pollIntervalMs = positive(options.pollIntervalMs, 250, 'pollIntervalMs');
    this.#maxAttempts = positive(options.maxAttempts, 5, 'maxAttempts');
    this.#retryDelayMs = positive(options.retryDelayMs, 50, 'retryDelayMs');
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

  get #name(): string {
    return this.subscriptionId ?? '(anonymous)';
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

  async #run(): Promise<void> {
    const { subscriptionId } = this;
    const signal = this.#abort.signal;
    let stored: Position | null = null;
    let from: Position | null = null;
    let delay = this.#retryDelayMs;
    try {
      while (!signal.aborted) {
        try {
          if (from === null) {
            stored = subscriptionId === undefined ? null : await this.#source.checkpoints.load(subscriptionId);
            from = stored === null ? (this.#options.fromPosition ?? 0n) : stored + 1n;
            this.#position = stored;
            if (stored !== null) this.#scanned = stored;
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
            await this.#handle(event);
            this.#position = event.position;
            from = event.position + 1n;
            this.#wakeWaiters();
            if (signal.aborted) break;
          }
          if (subscriptionId !== undefined && this.#position !== null && this.#position !== stored) {
            await this.#source.checkpoints.store(subscriptionId, this.#position);
            stored = this.#position;
          }
          delay = this.#retryDelayMs;
          if (count < this.#batchSize && !signal.aborted) {
            // The log is exhausted up to `head`: everything up to it has been seen.
            if (head > this.#scanned) this.#scanned = head;
            this.#status = 'live';
            this.#wakeWaiters();
            await this.#source.waitForAppend(this.#pollIntervalMs, signal);
          }
        } catch (error) {
          if (!isTransientStoreError(error) || signal.aborted) throw error;
          // The store will come back; `from` still says where to read on (the checkpoint is written once it does).
          await abortableSleep(delay, signal);
          delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
        }
      }
      this.#status = 'stopped';
      this.#rejectWaiters(new SubscriptionStoppedError(this.#name));
    } catch (error) {
      this.#status = 'failed';
      this.#failure = error;
      if (subscriptionId !== undefined && this.#position !== null && this.#position !== stored) {
        await this.#source.checkpoints.store(subscriptionId, this.#position).catch(() => undefined);
      }
      this.#rejectWaiters(error);
      throw error;
    }
  }

  async #handle(event: RecordedEvent<E>): Promise<void> {
    const context = { subscriptionId: this.subscriptionId };
    let delay = this.#retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.handler(event, context);
        return;
      } catch (cause) {
        if (attempt >= this.#maxAttempts) {
          throw new SubscriptionFailedError(this.subscriptionId ?? '(anonymous)', event.position, attempt, { cause });
        }
        await sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  #rejectWaiters(error: unknown): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }
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
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
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
