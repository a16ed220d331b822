/**
 * The loop that keeps one projection version up to date: hold the lease, read a batch from the
 * checkpoint, apply it with the checkpoint in one transaction, and at the head of the log move the
 * checkpoint to the head and (for a version built beside a serving one) switch readers over.
 * Transient store errors are waited out with backoff; any other error stops the projection
 * visibly (status `failed`, an `error` event, `info.error`) until it is restarted.
 */
import { AppendSignal } from '../event-store/append-signal.js';
import { StoreClosedError, SubscriptionFailedError, SubscriptionStoppedError } from '../envelope/errors.js';
import type { Position, RecordedEvent } from '../envelope/event.js';
import type { EventStore } from '../event-store/event-store.js';
import { applyBatch, CheckpointMoved, HandlerFailure } from './apply-batch.js';
import { isTransientStoreError } from '../subscriptions/transient.js';
import { failureRecord, UnreadableEvent, type EventRef } from './failure.js';
import { prepareProjection } from './prepare.js';
import { ProgressTracker, type ProjectionProgress } from './progress.js';
import type { AnyProjection, FailurePolicy } from './projection.js';
import type { ProjectionFailure, ProjectionHandle, ReadModelStore, ReadModelTransaction } from './read-model-store.js';
import type { ProjectionRunnerEvent, ProjectionStatus, ProjectionStatusInfo } from './runner-events.js';

export interface WorkerSettings {
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly owner: string;
  readonly failurePolicy: Required<FailurePolicy>;
  readonly emit: (event: ProjectionRunnerEvent) => void;
  /** Called after every commit and status change, so waiters can look again. */
  readonly changed: () => void;
}

type StepOutcome = 'more' | 'idle' | 'moved' | 'failed' | 'superseded';

/** A page of the log: the head position read first, then the events from some position on. */
interface Page {
  readonly head: Position;
  readonly events: (RecordedEvent | UnreadableEvent)[];
}

/** How often a live, idle worker checks whether a newer version took over. */
const ACTIVE_CHECK_MS = 1_000;
/** How often a worker stopped on an error looks whether it was restarted (a restart also wakes it). */
const ERROR_STOP_CHECK_MS = 1_000;

export class ProjectionWorker<H extends ProjectionHandle> {
  readonly projection: AnyProjection<H>;
  readonly #eventStore: EventStore;
  readonly #readModels: ReadModelStore<H>;
  readonly #settings: WorkerSettings;
  readonly #leaseKey: string;
  readonly #wake = new AppendSignal();
  #status: ProjectionStatus = 'stopped';
  #checkpoint: Position | null = null;
  #failure: ProjectionFailure | null = null;
  /** The error that stopped the projection outside any one event (status `failed`, no `failure`). */
  #error: unknown = null;
  #leading = false;
  #serving = false;
  #leaseRenewAt = 0;
  #activeCheckedAt = 0;
  #abort: AbortController | null = null;
  #loop: Promise<void> | null = null;
  #restartRequested = false;
  /** While a failure is being recorded: settles once the worker knows whether it stopped. */
  #stopping: Promise<void> | null = null;
  #tracker: ProgressTracker | null = null;
  #trackNextRun = false;
  #idleWaiters: { resolve: (progress: ProjectionProgress | null) => void; reject: (error: unknown) => void }[] = [];
  #lastProgress: ProjectionProgress | null = null;
  /** The next page, being read while the current one is applied. */
  #ahead: { readonly from: Position; readonly batchSize: number; readonly page: Promise<Page> } | null = null;

  constructor(projection: AnyProjection<H>, eventStore: EventStore, readModels: ReadModelStore<H>, settings: WorkerSettings) {
    this.projection = projection;
    this.#eventStore = eventStore;
    this.#readModels = readModels;
    this.#settings = settings;
    this.#leaseKey = `projection:${projection.namespace.namespace}`;
  }

  get info(): ProjectionStatusInfo {
    return {
      projection: this.projection.namespace,
      status: this.#status,
      checkpoint: this.#checkpoint,
      failure: this.#failure,
      error: this.#error,
      leading: this.#leading,
      serving: this.#serving,
    };
  }

  get running(): boolean {
    return this.#loop !== null;
  }

  /** Starts the loop; `trackProgress` reports progress from the first batch (rebuilds). */
  start(trackProgress = false): void {
    if (this.#loop) return;
    // A run stopped before it caught up leaves its tracker behind; progress starts afresh.
    this.#tracker = null;
    this.#error = null;
    this.#trackNextRun = trackProgress;
    this.#abort = new AbortController();
    this.#setStatus('starting');
    const loop = this.#main(this.#abort.signal);
    this.#loop = loop;
    void loop.finally(() => {
      if (this.#loop === loop) this.#loop = null;
    });
  }

  /** Stops after the batch in hand and gives the lease up. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#wake.notify();
    await this.#loop;
  }

  /**
   * Resumes a projection stopped by a failure, from the failed event; starts a stopped one. The
   * failure on record is cleared first, so waiters in any process wait for the retry rather than fail.
   */
  async restart(): Promise<void> {
    if (this.#stopping) await this.#stopping;
    if (!this.#loop) return this.start();
    if (this.#status !== 'failed') return;
    if (this.#failure) {
      const { namespace } = this.projection.namespace;
      await this.#readModels.transaction(async (tx) => {
        if ((await tx.getState(namespace))?.failure) await tx.setFailure(namespace, null);
      });
    }
    if (this.#status !== 'failed') return;
    this.#restartRequested = true;
    this.#error = null;
    this.#setStatus('starting');
    this.#wake.notify();
  }

  /** Look for new events now rather than at the next poll. */
  wake(): void {
    this.#wake.notify();
  }

  /** Resolves the next time the worker reaches the head of the log, with the run's last progress. */
  nextIdle(): Promise<ProjectionProgress | null> {
    return new Promise((resolve, reject) => this.#idleWaiters.push({ resolve, reject }));
  }

  async #main(signal: AbortSignal): Promise<void> {
    const { retryDelayMs, maxRetryDelayMs } = this.#settings.failurePolicy;
    let prepared = false;
    let errorDelay = Math.max(retryDelayMs, 10);
    try {
      while (!signal.aborted) {
        if (this.#error !== null) {
          // Stopped on an error retrying cannot fix: touch nothing until restarted (or stopped).
          await this.#pause(ERROR_STOP_CHECK_MS, signal);
          continue;
        }
        try {
          if (!(await this.#holdLease())) {
            if (this.#status !== 'standby') this.#settings.emit({ type: 'standby', projection: this.projection.namespace });
            this.#setStatus('standby');
            prepared = false;
            await this.#pause(this.#leaseRetryMs(), signal);
            continue;
          }
          if (this.#status === 'failed') {
            // Stopped on a failure: keep the lease, so no standby retries it, until restarted.
            await this.#pause(this.#untilLeaseRenewal(), signal);
            continue;
          }
          if (this.#restartRequested) {
            this.#restartRequested = false;
            prepared = false;
          }
          if (!prepared) {
            if ((await this.#prepare()) === 'superseded') return;
            prepared = true;
          }
          const outcome = await this.#step(signal);
          errorDelay = Math.max(retryDelayMs, 10);
          if (outcome === 'moved') prepared = false;
          else if (outcome === 'superseded') return;
          else if (outcome === 'idle') await this.#pause(Math.min(this.#settings.pollIntervalMs, this.#untilLeaseRenewal()), signal);
        } catch (error) {
          if (error instanceof StoreClosedError) return;
          const willRetry = isTransientStoreError(error);
          this.#settings.emit({ type: 'error', projection: this.projection.namespace, error, willRetry });
          prepared = false;
          if (!willRetry) {
            this.#stopOnError(error);
            continue;
          }
          await this.#pause(errorDelay, signal);
          errorDelay = Math.min(errorDelay * 2, Math.max(maxRetryDelayMs, 10));
        }
      }
    } finally {
      // A read ahead still running finishes before the worker says it stopped (the store may be closed next).
      const ahead = this.#ahead;
      this.#ahead = null;
      if (ahead) await ahead.page.catch(() => undefined);
      if (this.#leading) await this.#readModels.releaseLease(this.#leaseKey, this.#settings.owner).catch(() => undefined);
      this.#leading = false;
      if (this.#status !== 'superseded' && this.#status !== 'failed') this.#setStatus('stopped');
      else this.#settings.changed();
      const waiters = this.#idleWaiters.splice(0);
      const reason = this.#failure ? this.#failedError(this.#failure) : this.#stoppedError();
      for (const waiter of waiters) waiter.reject(reason);
    }
  }

  async #holdLease(): Promise<boolean> {
    const now = Date.now();
    if (this.#leading && now < this.#leaseRenewAt) return true;
    const held = await this.#readModels.tryAcquireLease(this.#leaseKey, this.#settings.owner, this.#settings.leaseTtlMs);
    if (held && !this.#leading) this.#settings.emit({ type: 'leading', projection: this.projection.namespace });
    this.#leading = held;
    if (held) this.#leaseRenewAt = now + this.#settings.leaseTtlMs / 3;
    return held;
  }

  #leaseRetryMs(): number {
    return Math.max(10, Math.min(1_000, this.#settings.leaseTtlMs / 3));
  }

  #untilLeaseRenewal(): number {
    return Math.max(1, this.#leaseRenewAt - Date.now());
  }

  /** Creates the version's bookkeeping (running `init`) and activates it when nothing serves yet. */
  async #prepare(): Promise<'ready' | 'superseded'> {
    const result = await this.#readModels.transaction((tx) => prepareProjection(tx, this.projection, { resume: true }));
    this.#checkpoint = result.checkpoint;
    this.#failure = result.failure;
    this.#activeCheckedAt = Date.now();
    if (result.activated) this.#settings.emit({ type: 'switched', projection: this.projection.namespace, from: null });
    if (result.active > this.projection.version) return this.#supersede(result.active);
    this.#serving = result.active === this.projection.version;
    this.#settings.changed();
    return 'ready';
  }

  #supersede(activeVersion: number): 'superseded' {
    this.#serving = false;
    this.#setStatus('superseded');
    this.#settings.emit({ type: 'superseded', projection: this.projection.namespace, activeVersion });
    return 'superseded';
  }

  async #step(signal: AbortSignal): Promise<StepOutcome> {
    const batchSize = this.projection.batchSize ?? this.#settings.batchSize;
    const { head, events } = await this.#page((this.#checkpoint ?? 0n) + 1n, batchSize);
    const more = events.length >= batchSize || events.at(-1) instanceof UnreadableEvent;
    // Catching up on a store whose transactions wait for a server: the next page is read meanwhile.
    const last = events.at(-1);
    if (this.#readModels.readAhead === true && more && last && !(last instanceof UnreadableEvent)) this.#readAhead(last.position + 1n, batchSize);
    if (!this.#tracker && (more || this.#trackNextRun)) {
      this.#tracker = new ProgressTracker(this.projection.namespace, this.#checkpoint);
      this.#trackNextRun = false;
    }
    if (events.length > 0) {
      const applied = await this.#applyWithPolicy(events, signal);
      if (applied !== 'applied') return applied;
    }
    if (more) {
      this.#setStatus('catching_up');
      this.#report(head, false, events.length);
      return 'more';
    }
    const settled = await this.#settle(head);
    if (settled !== 'settled') return settled;
    this.#report(head, true, events.length);
    const progress = this.#lastProgress;
    this.#tracker = null;
    this.#lastProgress = null;
    this.#setStatus('live');
    for (const waiter of this.#idleWaiters.splice(0)) waiter.resolve(progress);
    return 'idle';
  }

  #report(head: Position, done: boolean, eventsRead: number): void {
    if (!this.#tracker) return;
    const progress = this.#tracker.report(
      this.#checkpoint,
      head > (this.#checkpoint ?? 0n) ? head : (this.#checkpoint ?? head),
      done,
      eventsRead,
    );
    this.#lastProgress = progress;
    this.#settings.emit({ type: 'progress', projection: this.projection.namespace, progress });
  }

  /**
   * At the head: everything up to `head` has been read, so the checkpoint moves there (events of
   * other types included) and a version built beside the serving one takes over — in one transaction.
   */
  async #settle(head: Position): Promise<'settled' | 'moved' | 'superseded'> {
    const caughtUp = (this.#checkpoint ?? 0n) >= head;
    if (caughtUp && this.#serving && Date.now() - this.#activeCheckedAt < ACTIVE_CHECK_MS) return 'settled';
    const { projection } = this;
    const expected = this.#checkpoint;
    try {
      const result = await this.#readModels.transaction(async (tx) => {
        const state = await tx.getState(projection.namespace.namespace);
        if (!state) throw new CheckpointMoved('missing');
        if (state.checkpoint !== expected) throw new CheckpointMoved(state.checkpoint);
        let checkpoint = state.checkpoint;
        if (head > (checkpoint ?? 0n)) {
          await tx.setCheckpoint(projection.namespace.namespace, head);
          checkpoint = head;
        }
        const active = await tx.getActiveVersion(projection.name);
        if (active !== null && active > projection.version) return { checkpoint, active, switched: false };
        if (active !== projection.version) await tx.setActiveVersion(projection.name, projection.version);
        return { checkpoint, active, switched: active !== projection.version };
      });
      this.#checkpoint = result.checkpoint;
      this.#activeCheckedAt = Date.now();
      if (result.active !== null && result.active > projection.version) return this.#supersede(result.active);
      this.#serving = true;
      if (result.switched) this.#settings.emit({ type: 'switched', projection: projection.namespace, from: result.active });
      this.#settings.changed();
      return 'settled';
    } catch (error) {
      if (error instanceof CheckpointMoved) return 'moved';
      throw error;
    }
  }

  /**
   * Applies `events` as one transaction; when a handler throws, commits the events before it,
   * retries the failing event alone with backoff, and after the last attempt stops or
   * dead-letters it, as the failure policy says.
   */
  async #applyWithPolicy(read: readonly (RecordedEvent | UnreadableEvent)[], signal: AbortSignal): Promise<'applied' | 'moved' | 'failed' | 'idle'> {
    const policy = { ...this.#settings.failurePolicy, ...this.projection.failurePolicy };
    const events = [...read];
    let start = 0;
    let end = events.length;
    let failing: { position: Position; attempts: number; cause: unknown } | null = null;
    while (start < events.length) {
      if (signal.aborted) return 'idle';
      const head = events[start]!;
      if (failing && failing.position === head.position) {
        if (failing.attempts >= policy.maxAttempts) {
          const failure = failureRecord(head, failing.cause, failing.attempts);
          if (policy.onFailure !== 'dead-letter') return this.#stopOnFailure(failure);
          if (await this.#deadLetter(head, failure)) return 'moved';
          start++;
          end = events.length;
          failing = null;
          continue;
        }
        const delayMs = Math.min(policy.retryDelayMs * 2 ** (failing.attempts - 1), policy.maxRetryDelayMs);
        this.#settings.emit({
          type: 'retrying',
          projection: this.projection.namespace,
          position: head.position,
          eventId: head.id,
          attempts: failing.attempts,
          delayMs,
          error: failing.cause,
        });
        await this.#pause(delayMs, signal, false);
        if (signal.aborted) return 'idle';
        // Retry the failing event alone, so the events after it are not held in a doomed transaction.
        end = start + 1;
        if (head instanceof UnreadableEvent) {
          const again = await this.#reread(head);
          if (again === null) return 'moved';
          if (again instanceof UnreadableEvent) {
            failing = { position: head.position, attempts: failing.attempts + 1, cause: again.error };
            continue;
          }
          events[start] = again;
        }
      } else if (head instanceof UnreadableEvent) {
        // Reading it was the first attempt.
        failing = { position: head.position, attempts: 1, cause: head.error };
        continue;
      }
      const unreadable = events.findIndex((event, i) => i >= start && i < end && event instanceof UnreadableEvent);
      if (unreadable !== -1) end = unreadable;
      const batch = events.slice(start, end) as RecordedEvent[];
      const outcome = await this.#tryApply(batch);
      if (outcome === 'moved') return 'moved';
      if (outcome === 'applied') {
        start = end;
        end = events.length;
        if (failing && failing.position <= batch.at(-1)!.position) failing = null;
        continue;
      }
      const event = batch[outcome.index]!;
      const before: number = failing !== null && failing.position === event.position ? failing.attempts : 0;
      failing = { position: event.position, attempts: before + 1, cause: outcome.cause };
      // Commit the events before the failing one first, so they are not retried with it.
      if (outcome.index > 0) end = start + outcome.index;
    }
    return 'applied';
  }

  /**
   * Applies `batch` in one transaction whose document writes the store may hold back and send
   * together (`batchWrites`). A write refused when sent fails a later call or the commit, not its
   * own event's handler, so a failure there is not trusted to name the event:
   * - the commit failed (no handler did): the batch is applied again with each write sent at its
   *   call (`exact`), where the refused write fails its own event's handler;
   * - handler `i` failed: the events before it may hold the culprit, so the caller commits them
   *   first, on their own — which fails in its turn if one of them does — and only then retries
   *   event `i` alone, where every held-back write is its own.
   * Transient store errors go up to be waited out, as before.
   */
  async #tryApply(batch: readonly RecordedEvent[], exact = false): Promise<'applied' | 'moved' | HandlerFailure> {
    try {
      const state = await this.#readModels.transaction((tx) => applyBatch(tx, this.projection, batch, { expected: this.#checkpoint }), {
        batchWrites: !exact,
      });
      this.#checkpoint = state.checkpoint;
      this.#failure = state.failure;
      this.#settings.changed();
      return 'applied';
    } catch (error) {
      if (error instanceof CheckpointMoved) return 'moved';
      if (error instanceof HandlerFailure) return error;
      if (!exact && !isTransientStoreError(error) && !(error instanceof StoreClosedError)) return this.#tryApply(batch, true);
      throw error;
    }
  }

  async #stopOnFailure(failure: ProjectionFailure): Promise<'failed' | 'moved'> {
    const { namespace } = this.projection.namespace;
    const expected = this.#checkpoint;
    const recording = this.#readModels.transaction(async (tx) => {
      const checkpoint = await tx.getCheckpoint(namespace);
      if (checkpoint !== expected) throw new CheckpointMoved(checkpoint);
      await tx.setFailure(namespace, failure);
    });
    // Others may see the failure committed before this worker hears back; a restart meanwhile waits for it.
    this.#stopping = recording.then(
      () => undefined,
      () => undefined,
    );
    try {
      await recording;
    } catch (error) {
      if (error instanceof CheckpointMoved) return 'moved';
      throw error;
    } finally {
      this.#stopping = null;
    }
    this.#failure = failure;
    this.#setStatus('failed');
    this.#settings.emit({ type: 'failed', projection: this.projection.namespace, failure });
    for (const waiter of this.#idleWaiters.splice(0)) waiter.reject(this.#failedError(failure));
    return 'failed';
  }

  /** Stops on an error retrying cannot fix (not a transient store error, not one event's failure). */
  #stopOnError(error: unknown): void {
    this.#error = error;
    this.#setStatus('failed');
    const reason = new SubscriptionStoppedError(this.projection.namespace.namespace, 'it stopped on an error; restart it once the cause is fixed', {
      cause: error,
    });
    for (const waiter of this.#idleWaiters.splice(0)) waiter.reject(reason);
  }

  #failedError(failure: ProjectionFailure): SubscriptionFailedError {
    return new SubscriptionFailedError(this.projection.namespace.namespace, failure.position, failure.attempts, {
      cause: new Error(failure.error),
    });
  }

  #stoppedError(): SubscriptionStoppedError {
    const detail = this.#error !== null ? 'it stopped on an error' : `it is ${this.#status}`;
    return new SubscriptionStoppedError(this.projection.namespace.namespace, detail, this.#error !== null ? { cause: this.#error } : undefined);
  }

  /**
   * The head, then up to `batchSize` events from `from` — the page read ahead when it starts
   * there, else read now. A page read ahead is as good as one read now: it was read after the
   * head it came with, and a position once read is never filled in later (the stores' never-skip
   * rule). One that starts elsewhere (a batch that failed part way, a checkpoint that moved) is dropped.
   */
  #page(from: Position, batchSize: number): Promise<Page> {
    const ahead = this.#ahead;
    this.#ahead = null;
    if (ahead && ahead.from === from && ahead.batchSize === batchSize) return ahead.page;
    return this.#readPage(from, batchSize);
  }

  #readAhead(from: Position, batchSize: number): void {
    const page = this.#readPage(from, batchSize);
    // Its error, if it is ever taken, is met where it is awaited; a page dropped unread may fail unseen.
    page.catch(() => undefined);
    this.#ahead = { from, batchSize, page };
  }

  async #readPage(from: Position, batchSize: number): Promise<Page> {
    const head = await this.#eventStore.headPosition();
    return { head, events: await this.#read(from, batchSize) };
  }

  /**
   * Reads up to `batchSize` events from `from`. An event the store cannot hand over (its upcaster
   * throws) ends the batch as an `UnreadableEvent`. A store may fail a whole page for that one
   * event, so the events before it are then read one at a time.
   */
  async #read(from: Position, batchSize: number): Promise<(RecordedEvent | UnreadableEvent)[]> {
    const events: (RecordedEvent | UnreadableEvent)[] = [];
    try {
      for await (const event of this.#eventStore.readAll({ fromPosition: from, maxCount: batchSize, batchSize, filter: this.projection.filter })) {
        events.push(event);
      }
      return events;
    } catch (error) {
      if (!UnreadableEvent.from(error)) throw error;
    }
    let next = events.length > 0 ? (events.at(-1) as RecordedEvent).position + 1n : from;
    while (events.length < batchSize) {
      const one = await this.#readOne(next);
      if (one === null) break;
      events.push(one);
      if (one instanceof UnreadableEvent) break;
      next = one.position + 1n;
    }
    return events;
  }

  /** The first event at or after `from`, or the unreadable one there; null at the end of the log. */
  async #readOne(from: Position): Promise<RecordedEvent | UnreadableEvent | null> {
    try {
      for await (const event of this.#eventStore.readAll({ fromPosition: from, maxCount: 1, batchSize: 1, filter: this.projection.filter })) {
        return event;
      }
      return null;
    } catch (error) {
      const unreadable = UnreadableEvent.from(error);
      if (!unreadable) throw error;
      return unreadable;
    }
  }

  /** Reads an unreadable event again (its upcaster may have been transiently failing); null if it is gone. */
  async #reread(event: UnreadableEvent): Promise<RecordedEvent | UnreadableEvent | null> {
    const again = await this.#readOne(event.position);
    return again !== null && again.position === event.position ? again : null;
  }

  /** Records the dead letter and moves the checkpoint past the event, together. Returns true if the checkpoint had moved. */
  async #deadLetter(event: EventRef, failure: ProjectionFailure): Promise<boolean> {
    const projection = this.projection.namespace;
    const expected = this.#checkpoint;
    const deadLetter = {
      projection,
      position: event.position,
      eventId: event.id,
      eventType: event.type,
      streamId: event.streamId,
      error: failure.error,
      attempts: failure.attempts,
      recordedAt: failure.failedAt,
    };
    try {
      await this.#readModels.transaction(async (tx: ReadModelTransaction<H>) => {
        const state = await tx.getState(projection.namespace);
        if (!state || state.checkpoint !== expected) throw new CheckpointMoved(state ? state.checkpoint : 'missing');
        await tx.addDeadLetter(deadLetter);
        await tx.setCheckpoint(projection.namespace, event.position);
        if (state.failure) await tx.setFailure(projection.namespace, null);
      });
    } catch (error) {
      if (error instanceof CheckpointMoved) return true;
      throw error;
    }
    this.#checkpoint = event.position;
    this.#failure = null;
    this.#settings.emit({ type: 'dead-lettered', projection, deadLetter });
    this.#settings.changed();
    return false;
  }

  /** Waits `ms`, or less when woken (unless `wakeable` is false) or stopped. */
  async #pause(ms: number, signal: AbortSignal, wakeable = true): Promise<void> {
    if (signal.aborted) return;
    if (wakeable) {
      await this.#wake.wait(ms, signal);
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #setStatus(status: ProjectionStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#settings.changed();
  }
}

