/**
 * How a waiting receiver learns there may be something to claim: every commit of the transport
 * on this connection signals in-process (shared by every transport on the connection), and
 * `PRAGMA data_version`, polled every few milliseconds while a receiver waits, shows commits of
 * other connections — other processes on the file — within that time.
 *
 * Each wait compares against the data_version read just before its receiver's last look at the
 * queue, so a commit landing between that look and the wait is not missed.
 */
import { AppendSignal } from '@eventloom/core/adapter';
import type { ConnectionLock } from '../connection-lock.js';
import { FILE_POLL_MS } from '../file-changes.js';
import type { SqliteDatabase } from '../open-database.js';
import type { QueueStatements } from './queue-statements.js';

const signals = new WeakMap<SqliteDatabase, AppendSignal>();

/** The in-process signal of `db`'s transport commits. */
export function queueSignal(db: SqliteDatabase): AppendSignal {
  let signal = signals.get(db);
  if (!signal) signals.set(db, (signal = new AppendSignal()));
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

  /** Resolves on a commit of this connection's transports, another connection's commit since `version`, after `ms`, or on abort. */
  wait(ms: number, signal: AbortSignal, version: number | undefined): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const local = new AbortController();
    const combined = AbortSignal.any([signal, local.signal]);
    const waiter: Waiter = { version, wake: () => local.abort() };
    this.#waiters.add(waiter);
    this.#startPolling();
    return queueSignal(this.db)
      .wait(Math.max(0, ms), combined)
      .finally(() => {
        this.#waiters.delete(waiter);
        if (this.#waiters.size === 0) this.stop();
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
