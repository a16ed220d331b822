/**
 * How a waiting receiver learns there may be something to claim: every commit of the transport
 * on this connection signals in-process (shared by every transport on the connection), and
 * `PRAGMA data_version`, polled every few milliseconds while a receiver waits, shows commits of
 * other connections — other processes on the file — within that time.
 *
 * Each wait compares against the data_version read just before its receiver's last look at the
 * queue, so a commit landing between that look and the wait is not missed.
 */
import type { ConnectionLock } from '../connection-lock.js';
import { FILE_POLL_MS } from '../file-changes.js';
import type { SqliteDatabase } from '../open-database.js';
import type { QueueStatements } from './queue-statements.js';

/** Wakes every waiter at once. No AbortSignal.any: on Node 20 each call leaves a dependent on long-lived signals. */
export class QueueSignal {
  #waiters = new Set<() => void>();

  notify(): void {
    if (this.#waiters.size === 0) return;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  add(wake: () => void): void {
    this.#waiters.add(wake);
  }

  delete(wake: () => void): void {
    this.#waiters.delete(wake);
  }
}

const signals = new WeakMap<SqliteDatabase, QueueSignal>();

/** The in-process signal of `db`'s transport commits. */
export function queueSignal(db: SqliteDatabase): QueueSignal {
  let signal = signals.get(db);
  if (!signal) signals.set(db, (signal = new QueueSignal()));
  return signal;
}

interface Waiter {
  readonly version: number | undefined;
  readonly wake: () => void;
}

export class QueueWakeups {
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly connection: ConnectionLock,
    private readonly statements: () => QueueStatements,
  ) {}

  /** The file's data_version now; undefined when it cannot be read (a transaction of this process holds the connection). */
  version(): number | undefined {
    if (!this.db.open || !this.connection.available) return undefined;
    try {
      return this.statements().dataVersion.get() as number;
    } catch {
      // Only a hint: the wait's time-out is the fallback.
      return undefined;
    }
  }

  /** Resolves on a commit of this connection's transports, another connection's commit since `version`, after `ms`, or when a signal aborts. */
  wait(ms: number, signals: readonly AbortSignal[], version: number | undefined): Promise<void> {
    if (signals.some((signal) => signal.aborted)) return Promise.resolve();
    return new Promise((resolve) => {
      const inProcess = queueSignal(this.db);
      const done = (): void => {
        clearTimeout(timer);
        inProcess.delete(done);
        this.#waiters.delete(waiter);
        for (const signal of signals) signal.removeEventListener('abort', done);
        if (this.#waiters.size === 0) this.stop();
        resolve();
      };
      const waiter: Waiter = { version, wake: done };
      const timer = setTimeout(done, Math.max(0, ms));
      inProcess.add(done);
      this.#waiters.add(waiter);
      for (const signal of signals) signal.addEventListener('abort', done, { once: true });
      this.#startPolling();
    });
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #startPolling(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#poll(), FILE_POLL_MS);
    this.#timer.unref();
  }

  #poll(): void {
    const version = this.version();
    if (version === undefined) return;
    for (const waiter of this.#waiters) if (waiter.version !== version) waiter.wake();
  }
}
