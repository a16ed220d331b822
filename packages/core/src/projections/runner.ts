/**
 * The async projection runner: one checkpointed worker per projection version, with
 * `waitForPosition` for read-your-writes by position, lag per projection, restarts after a
 * failure, rebuilds with progress, and blue/green switches when a version changes.
 */
import { hostname } from 'node:os';
import { AppendSignal } from '../event-store/append-signal.js';
import { InvalidArgumentError, LeaseHeldError, SubscriptionFailedError, SubscriptionStoppedError } from '../envelope/errors.js';
import type { Position } from '../envelope/event.js';
import type { EventStore, Subscription } from '../event-store/event-store.js';
import { uuidv7 } from '../envelope/uuid.js';
import { assertProjectionName, projectionNamespace, type ProjectionNamespace } from './namespace.js';
import type { ProjectionProgress } from './progress.js';
import type { AnyProjection, FailurePolicy } from './projection.js';
import type { ProjectionFailure, ProjectionHandle, ReadModelStore, WaitForPositionOptions } from './read-model-store.js';
import { ProjectionWaitTimeoutError, waitArguments } from './wait-for-position.js';
import type { ProjectionLag, ProjectionRunnerEvent, ProjectionStatusInfo } from './runner-events.js';
import { ProjectionWorker, type WorkerSettings } from './worker.js';

export interface ProjectionRunnerOptions<H extends ProjectionHandle = ProjectionHandle> {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore<H>;
  readonly projections?: readonly AnyProjection<H>[];
  /** Most events applied per transaction. Default 1000. */
  readonly batchSize?: number;
  /** How often to look for new events when nothing wakes the runner. Default 100 ms. */
  readonly pollIntervalMs?: number;
  /** How long a lease lasts unless renewed; a standby takes over this long after its holder died. Default 10 s. */
  readonly leaseTtlMs?: number;
  /** This runner's identity in leases. Default: host, pid and a random part. */
  readonly owner?: string;
  /** Defaults for projections that do not set their own. */
  readonly failurePolicy?: FailurePolicy;
  /** Lifecycle events: progress, switches, retries, failures, dead letters, errors. */
  readonly onEvent?: (event: ProjectionRunnerEvent) => void;
}

export interface RebuildOptions {
  readonly onProgress?: (progress: ProjectionProgress) => void;
}

export { ProjectionWaitTimeoutError };

type ProjectionRef = string | { readonly name: string; readonly version?: number };

const DEFAULT_POLICY: Required<FailurePolicy> = { onFailure: 'stop', maxAttempts: 5, retryDelayMs: 100, maxRetryDelayMs: 5_000 };

/**
 * Runs projections against an event store, keeping their read models in a read-model store.
 *
 * @example
 * const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary] });
 * await runner.start();
 * const { position } = await eventStore.appendToStream('order-1', [orderCreated]);
 * await readModels.waitForPosition('order-summary', position, { timeoutMs: 5_000 });
 * const summary = await readModels.read('order-summary', (view) => view.collection('orders').get('1'));
 */
/** `lag` counts at most this many events behind. */
const LAG_COUNT_LIMIT = 10_000;
/** How often a waiter looks whether the local worker stopped on an error, when nothing wakes it. */
const ERROR_WATCH_MS = 1_000;

export class ProjectionRunner<H extends ProjectionHandle = ProjectionHandle> {
  readonly owner: string;
  readonly #eventStore: EventStore;
  readonly #readModels: ReadModelStore<H>;
  readonly #workers = new Map<string, ProjectionWorker<H>>();
  readonly #settings: WorkerSettings;
  readonly #changed = new AppendSignal();
  readonly #listeners = new Set<(event: ProjectionRunnerEvent) => void>();
  #started = false;
  /** Tells the workers of new events as the store learns of them (in-process, LISTEN/NOTIFY), so they need not wait for a poll. */
  #appends: Subscription | null = null;

  constructor(options: ProjectionRunnerOptions<H>) {
    if (!options || typeof options.eventStore?.readAll !== 'function') {
      throw new InvalidArgumentError('eventStore', 'must be an EventStore');
    }
    if (typeof options.readModels?.transaction !== 'function') {
      throw new InvalidArgumentError('readModels', 'must be a ReadModelStore');
    }
    this.#eventStore = options.eventStore;
    this.#readModels = options.readModels;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${uuidv7().slice(-12)}`;
    if (typeof this.owner !== 'string' || this.owner === '') throw new InvalidArgumentError('owner', 'must be a non-empty string');
    const onEvent = options.onEvent;
    this.#settings = {
      batchSize: positiveInteger(options.batchSize, 1_000, 'batchSize'),
      pollIntervalMs: positiveInteger(options.pollIntervalMs, 100, 'pollIntervalMs'),
      leaseTtlMs: positiveInteger(options.leaseTtlMs, 10_000, 'leaseTtlMs'),
      owner: this.owner,
      failurePolicy: { ...DEFAULT_POLICY, ...options.failurePolicy },
      emit: (event) => {
        if (onEvent) safely(() => onEvent(event));
        for (const listener of this.#listeners) safely(() => listener(event));
      },
      changed: () => this.#changed.notify(),
    };
    for (const projection of options.projections ?? []) this.add(projection);
  }

  /** Adds a projection; it starts right away when the runner is running. */
  add(projection: AnyProjection<H>): this {
    if (!projection || typeof projection.apply !== 'function' || !projection.namespace) {
      throw new InvalidArgumentError('projection', 'must be made with defineProjection');
    }
    const key = projection.namespace.namespace;
    if (this.#workers.has(key)) throw new InvalidArgumentError('projection', `${key} is already in this runner`);
    const worker = new ProjectionWorker(projection, this.#eventStore, this.#readModels, this.#settings);
    this.#workers.set(key, worker);
    if (this.#started) worker.start();
    return this;
  }

  /** Starts every projection: each catches up from its checkpoint, then follows the log. */
  async start(): Promise<void> {
    this.#started = true;
    for (const worker of this.#workers.values()) worker.start();
    this.#followAppends();
  }

  /** Stops every projection after the batch in hand and gives their leases up. */
  async stop(): Promise<void> {
    this.#started = false;
    const appends = this.#appends;
    this.#appends = null;
    await appends?.stop().catch(() => undefined);
    await Promise.all([...this.#workers.values()].map((worker) => worker.stop()));
  }

  #followAppends(): void {
    if (this.#appends || typeof this.#eventStore.subscribe !== 'function') return;
    try {
      this.#appends = this.#eventStore.subscribe({
        from: 'now',
        logger: false,
        pollIntervalMs: this.#settings.pollIntervalMs,
        handler: () => {
          for (const worker of this.#workers.values()) worker.wake();
        },
      });
      // Only a wake-up: if it ends, the workers still poll.
      this.#appends.done.catch(() => undefined);
    } catch {
      this.#appends = null;
    }
  }

  /** Resumes a projection stopped by a failure, from the failed event. */
  async restart(projection: ProjectionRef): Promise<void> {
    await this.#worker(projection).restart();
  }

  status(projection: ProjectionRef): ProjectionStatusInfo {
    return this.#worker(projection).info;
  }

  statuses(): ProjectionStatusInfo[] {
    return [...this.#workers.values()].map((worker) => worker.info);
  }

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  onEvent(listener: (event: ProjectionRunnerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves once the serving version of `projection` has applied everything up to `position`
   * (typically the position an append returned), wherever its runner runs: the read-model store's
   * `waitForPosition`, which needs no runner, plus what only this runner knows — its worker stopping
   * on an error. `options` may be the time-out in milliseconds.
   * @throws SubscriptionFailedError when the projection is stopped on a failure before `position`
   * @throws SubscriptionStoppedError when this runner's worker stopped on an error retrying cannot fix
   * @throws ProjectionWaitTimeoutError after `timeoutMs`
   */
  async waitForPosition(projection: ProjectionRef, position: Position, options: number | WaitForPositionOptions = {}): Promise<void> {
    const given: WaitForPositionOptions = typeof options === 'number' ? { timeoutMs: options } : options;
    const { name, version } = waitArguments(projection, position, given);
    const stopped = new AbortController();
    const watch = async (): Promise<void> => {
      while (!stopped.signal.aborted) {
        const reason = this.#stopReason(name, version, position);
        if (reason) return stopped.abort(reason);
        await this.#changed.wait(ERROR_WATCH_MS, stopped.signal);
      }
    };
    void watch();
    if (stopped.signal.aborted) throw stopped.signal.reason;
    const local = this.#localWorkers(name, version);
    for (const worker of local) worker.wake();
    // A failure on record that a worker here is about to retry is not a stop; if it stops again, `watch` says so.
    const retrying = local.some((worker) => worker.running && worker.info.status !== 'failed');
    const signal = given.signal ? AbortSignal.any([given.signal, stopped.signal]) : stopped.signal;
    try {
      await this.#readModels.waitForPosition(projection, position, { ...given, signal, ...(retrying && { whileFailed: 'wait' }) });
    } finally {
      stopped.abort();
    }
  }

  /** This runner's workers of the version waited on: the given one, else every version of the name. */
  #localWorkers(name: string, version: number | undefined): ProjectionWorker<H>[] {
    return [...this.#workers.values()].filter(
      (worker) => worker.projection.name === name && (version === undefined || worker.projection.version === version),
    );
  }

  /** Why a wait must end now, as far as this runner knows: its worker of the version stopped. */
  #stopReason(name: string, version: number | undefined, position: Position): Error | null {
    for (const worker of this.#localWorkers(name, version)) {
      const info = worker.info;
      if (info.status !== 'failed' || (version === undefined && !info.serving)) continue;
      const { namespace } = info.projection;
      if (info.error !== null) return new SubscriptionStoppedError(namespace, 'it stopped on an error; restart it once the cause is fixed', { cause: info.error });
      if (info.failure && info.failure.position <= position) {
        return new SubscriptionFailedError(namespace, info.failure.position, info.failure.attempts, { cause: new Error(info.failure.error) });
      }
    }
    return null;
  }

  /** How far the serving version of `projection` is behind the head of the log. */
  async lag(projection: ProjectionRef): Promise<ProjectionLag> {
    const name = typeof projection === 'string' ? projection : projection?.name;
    assertProjectionName(name);
    const explicit = typeof projection === 'string' ? undefined : projection.version;
    const head = await this.#eventStore.headPosition();
    const target = explicit !== undefined ? await this.#stateOf(projectionNamespace(name, explicit)) : await this.#servingProgress(name);
    const { projection: serving, checkpoint, failure } = target;
    if (!serving) throw new InvalidArgumentError('projection', `${name} has no serving version yet: start it in a ProjectionRunner first`);
    const covered = checkpoint ?? 0n;
    // Counted, not subtracted: positions need not be dense (on PostgreSQL they are not).
    let events = 0;
    let seconds = 0;
    if (head > covered) {
      for await (const event of this.#eventStore.readAll({ fromPosition: covered + 1n, maxCount: LAG_COUNT_LIMIT, batchSize: 1_000 })) {
        if (event.position > head) break;
        if (events === 0) seconds = Math.max(0, (Date.now() - Date.parse(event.time)) / 1000);
        events++;
      }
    }
    return { projection: serving, checkpoint, head, events, seconds, failure };
  }

  /**
   * Rebuilds a projection of this runner from the start of the log, in place: its read model is
   * dropped and rebuilt (readers see it fill up; bump the version instead for a blue/green rebuild
   * that keeps the old one serving). Resolves with the last progress report once caught up.
   */
  async rebuild(projection: ProjectionRef, options: RebuildOptions = {}): Promise<ProjectionProgress | null> {
    const worker = this.#worker(projection);
    const { namespace } = worker.projection.namespace;
    await worker.stop();
    const leaseKey = `projection:${namespace}`;
    if (!(await this.#readModels.tryAcquireLease(leaseKey, this.owner, this.#settings.leaseTtlMs))) {
      if (this.#started) worker.start();
      throw new LeaseHeldError(leaseKey, null, `another process runs ${namespace}; rebuild it there, or stop that process first`);
    }
    await this.#readModels.transaction((tx) => tx.dropNamespace(namespace));
    const unsubscribe = this.onEvent((event) => {
      if (event.type === 'progress' && event.projection.namespace === namespace) options.onProgress?.(event.progress);
    });
    try {
      const caughtUp = worker.nextIdle();
      worker.start(true);
      return await caughtUp;
    } finally {
      unsubscribe();
      if (!this.#started) await worker.stop();
    }
  }

  #worker(projection: ProjectionRef): ProjectionWorker<H> {
    const name = typeof projection === 'string' ? projection : projection?.name;
    assertProjectionName(name);
    const version = typeof projection === 'string' ? undefined : projection.version;
    let found: ProjectionWorker<H> | undefined;
    for (const worker of this.#workers.values()) {
      if (worker.projection.name !== name) continue;
      if (version !== undefined ? worker.projection.version === version : !found || worker.projection.version > found.projection.version) {
        found = worker;
      }
    }
    if (!found) throw new InvalidArgumentError('projection', `${name}${version === undefined ? '' : `@${version}`} is not in this runner`);
    return found;
  }

  /** Checkpoint and failure of the version serving `name`: from the local worker when it leads, else from the store. */
  async #servingProgress(name: string): Promise<ServingProgress> {
    for (const worker of this.#workers.values()) {
      const info = worker.info;
      if (info.projection.name === name && info.serving && info.leading) {
        // A failure on record is being retried until the worker gives up again.
        const failed = info.status === 'failed';
        return { projection: info.projection, checkpoint: info.checkpoint, failure: failed ? info.failure : null, error: failed ? info.error : null };
      }
    }
    return this.#readModels.transaction(
      async (tx) => {
        const version = await tx.getActiveVersion(name);
        if (version === null) return { projection: null, checkpoint: null, failure: null, error: null };
        const projection = projectionNamespace(name, version);
        const state = await tx.getState(projection.namespace);
        return { projection, checkpoint: state?.checkpoint ?? null, failure: state?.failure ?? null, error: null };
      },
      { readOnly: true },
    );
  }

  async #stateOf(projection: ProjectionNamespace): Promise<ServingProgress> {
    const state = await this.#readModels.transaction((tx) => tx.getState(projection.namespace), { readOnly: true });
    return { projection, checkpoint: state?.checkpoint ?? null, failure: state?.failure ?? null, error: null };
  }
}

interface ServingProgress {
  readonly projection: ProjectionNamespace | null;
  readonly checkpoint: Position | null;
  readonly failure: ProjectionFailure | null;
  /** The error a local worker stopped on outside any one event; null otherwise. */
  readonly error: unknown;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(name, `must be a positive integer, got ${value}`);
  return value;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's bug must not stop the projections it listens to.
  }
}
