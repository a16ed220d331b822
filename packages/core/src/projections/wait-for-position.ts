/**
 * Read-your-writes by position, the rule every read-model store follows: look at the checkpoint
 * of the serving (or given) version, and look again whenever a commit may have moved it — told
 * in-process, by LISTEN/NOTIFY, or at the latest after a short poll. Stores supply how to read the
 * checkpoint and how to be woken; the waiting, time-outs and errors are the same everywhere.
 */
import { EventloomError, InvalidArgumentError, SubscriptionFailedError } from '../envelope/errors.js';
import type { Position } from '../envelope/event.js';
import { isTransientStoreError } from '../subscriptions/transient.js';
import { assertProjectionName, assertProjectionVersion } from './namespace.js';
import type { ProjectionFailure, WaitForPositionOptions } from './read-model-store.js';
import type { ReadTarget } from './read-target.js';

/** Thrown by `waitForPosition` when the projection did not get there in time. */
export class ProjectionWaitTimeoutError extends EventloomError {
  readonly code = 'PROJECTION_WAIT_TIMEOUT' as const;

  constructor(
    readonly projection: string,
    readonly position: Position,
    readonly checkpoint: Position | null,
    readonly timeoutMs: number,
  ) {
    super(
      `Projection ${projection} did not reach position ${position} within ${timeoutMs} ms (it is at ${
        checkpoint === null ? 'the start' : checkpoint
      }); is a runner running it, and is it keeping up? See its lag.`,
    );
  }
}

/** Where the waited-on version stands. */
export interface CheckpointSnapshot {
  /** `name@version` of the version looked at; `null` while no version of the name serves. */
  readonly namespace: string | null;
  readonly checkpoint: Position | null;
  /** The failure it is stopped on, if any. */
  readonly failure: ProjectionFailure | null;
}

/** What a store gives `waitForCheckpoint`. */
export interface CheckpointSource {
  /** Reads the state of version `version` of `name`, or of its serving version when `version` is undefined. */
  read(name: string, version: number | undefined): Promise<CheckpointSnapshot>;
  /**
   * Resolves at the next commit that may have moved a checkpoint, after `ms`, or when `signal`
   * aborts — whichever is first. Must start listening synchronously (before it returns).
   */
  changed(ms: number, signal: AbortSignal): Promise<void>;
  /** Longest time between two looks when nothing wakes the waiter (e.g. commits of other processes on SQLite). */
  readonly pollIntervalMs: number;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;

/** Validates the arguments of `waitForPosition`; returns the name, explicit version and time-out. */
export function waitArguments(
  target: ReadTarget,
  position: Position,
  options: WaitForPositionOptions | undefined,
): { name: string; version: number | undefined; timeoutMs: number; signal: AbortSignal | undefined; whileFailed: 'reject' | 'wait' } {
  const name = typeof target === 'string' ? target : (target as { name?: unknown } | null)?.name;
  assertProjectionName(name);
  const version = typeof target === 'string' ? undefined : target.version;
  if (version !== undefined) assertProjectionVersion(version);
  if (typeof position !== 'bigint' || position < 0n) throw new InvalidArgumentError('position', `must be a non-negative bigint, got ${String(position)}`);
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new InvalidArgumentError('options', 'must be { timeoutMs, signal, whileFailed }');
  const timeoutMs = options?.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError('timeoutMs', `must be a non-negative number, got ${String(timeoutMs)}`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  const whileFailed = options?.whileFailed ?? 'reject';
  if (whileFailed !== 'reject' && whileFailed !== 'wait') throw new InvalidArgumentError('whileFailed', `must be 'reject' or 'wait', got ${String(whileFailed)}`);
  return { name, version, timeoutMs, signal, whileFailed };
}

/**
 * The body of every store's `waitForPosition`.
 * @throws ProjectionWaitTimeoutError after `timeoutMs`
 * @throws SubscriptionFailedError when the version is stopped on a failure at or before `position`
 */
export async function waitForCheckpoint(
  target: ReadTarget,
  position: Position,
  options: WaitForPositionOptions | undefined,
  source: CheckpointSource,
): Promise<void> {
  const { name, version, timeoutMs, signal, whileFailed } = waitArguments(target, position, options);
  const deadline = performance.now() + timeoutMs;
  let last: CheckpointSnapshot = { namespace: version === undefined ? null : `${name}@${version}`, checkpoint: null, failure: null };
  for (let first = true; ; first = false) {
    signal?.throwIfAborted();
    const remaining = deadline - performance.now();
    if (!first && remaining <= 0) throw new ProjectionWaitTimeoutError(last.namespace ?? name, position, last.checkpoint, timeoutMs);
    // Listen before looking, so a commit between the look and the wait still wakes us.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const changed = source.changed(Math.max(0, Math.min(remaining, source.pollIntervalMs)), stop.signal);
    try {
      try {
        // With no time left (timeoutMs 0) the one look is waited for whole.
        const reading = source.read(name, version);
        const looked = remaining > 0 ? await withinDeadline(reading, remaining, stop.signal) : await reading;
        // A look that outlasts the time-out (a store answering only after an open transaction) ends the wait.
        if (looked === TIMED_OUT) throw new ProjectionWaitTimeoutError(last.namespace ?? name, position, last.checkpoint, timeoutMs);
        if (looked === ABORTED) continue;
        last = looked;
      } catch (error) {
        if (error instanceof ProjectionWaitTimeoutError) throw error;
        // A blip of the store (a lost connection) is waited out like a slow projection.
        if (!isTransientStoreError(error) || remaining <= 0) throw error;
        await changed;
        continue;
      }
      // Positions start at 1: a projection that has seen nothing has covered position 0.
      if ((last.checkpoint ?? 0n) >= position) return;
      const { failure } = last;
      if (failure && failure.position <= position && whileFailed === 'reject') {
        throw new SubscriptionFailedError(last.namespace ?? name, failure.position, failure.attempts, { cause: new Error(failure.error) });
      }
      if (remaining <= 0) throw new ProjectionWaitTimeoutError(last.namespace ?? name, position, last.checkpoint, timeoutMs);
      await changed;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }
}

const TIMED_OUT = Symbol('timed out');
const ABORTED = Symbol('aborted');

/** `promise`, or TIMED_OUT after `ms`, or ABORTED when `signal` aborts; a late rejection is ignored. */
function withinDeadline<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T | typeof TIMED_OUT | typeof ABORTED> {
  promise.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
    };
    const aborted = (): void => {
      done();
      resolve(ABORTED);
    };
    const timer = setTimeout(() => {
      done();
      resolve(TIMED_OUT);
    }, Math.max(0, ms));
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
