/**
 * Group commit for the transport's writes: sends, claims, acks, retries and dead-lettering that
 * arrive in the same turn of the event loop share one transaction, and so one fsync — as the
 * store's appends do (`group-commit.ts`, where the choice of `setImmediate` is measured). Each
 * write runs under its own savepoint and settles on its own.
 *
 * Another process holding the write lock makes BEGIN answer SQLITE_BUSY at once (busy_timeout 0):
 * the group stays queued and is tried again on a timer with backoff; a write that has waited
 * longer than the busy timeout fails with StoreBusyError, having written nothing.
 *
 * A write made from inside a transaction that holds this connection (a read-model transaction,
 * an inline handler of the store on the same connection) joins that transaction: it commits or
 * rolls back with it, and waiters are woken after it ends.
 */
import { StoreBusyError, TransportClosedError } from '@eventloom/core';
import { busyBackoffMs, isBusy } from '../busy.js';
import { outsideTransactions, type ConnectionLock } from '../connection-lock.js';
import type { SqliteDatabase } from '../open-database.js';
import { storeError } from '../sqlite-errors.js';
import type { QueueStatements } from './queue-statements.js';

export type QueueWork<T> = (statements: QueueStatements) => T;

interface Pending {
  readonly doing: string;
  readonly work: QueueWork<unknown>;
  readonly queuedAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export interface QueueWriterStats {
  readonly commits: number;
  readonly writes: number;
  readonly largestGroup: number;
}

export class QueueWriter {
  #queue: Pending[] = [];
  #scheduled = false;
  #waitingForConnection = false;
  #busyTimer: NodeJS.Timeout | undefined;
  #busyAttempts = 0;
  #drained: (() => void)[] = [];
  #commits = 0;
  #writes = 0;
  #largestGroup = 0;
  readonly #flush = (): void => outsideTransactions(() => this.#flushNow());

  constructor(
    private readonly db: SqliteDatabase,
    private readonly statements: () => QueueStatements,
    private readonly connection: ConnectionLock,
    private readonly busyTimeoutMs: number,
    /** Called after a commit that changed something, to wake receivers. */
    private readonly afterCommit: () => void,
  ) {}

  get stats(): QueueWriterStats {
    return { commits: this.#commits, writes: this.#writes, largestGroup: this.#largestGroup };
  }

  submit<T>(doing: string, work: QueueWork<T>): Promise<T> {
    if (!this.db.open) return Promise.reject(new TransportClosedError('sqlite'));
    if (this.connection.insideHolder) return this.#joinHolder(doing, work);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ doing, work, queuedAt: Date.now(), resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled && this.#busyTimer === undefined && !this.#waitingForConnection) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  /** Resolves once every queued write has settled. */
  drain(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #joinHolder<T>(doing: string, work: QueueWork<T>): Promise<T> {
    try {
      const s = this.statements();
      s.savepoint.run();
      try {
        const value = work(s);
        s.releaseSavepoint.run();
        this.connection.afterRelease(this.afterCommit);
        return Promise.resolve(value);
      } catch (error) {
        if (this.db.inTransaction) {
          s.rollbackToSavepoint.run();
          s.releaseSavepoint.run();
        }
        throw error;
      }
    } catch (error) {
      return Promise.reject(storeError(error, doing, 'nothing', this.db.name));
    }
  }

  #flushNow(): void {
    this.#scheduled = false;
    if (this.#busyTimer !== undefined) {
      clearTimeout(this.#busyTimer);
      this.#busyTimer = undefined;
    }
    if (this.#queue.length === 0) return this.#notifyDrained();
    if (!this.db.open) {
      for (const pending of this.#queue.splice(0)) pending.reject(new TransportClosedError('sqlite'));
      return this.#notifyDrained();
    }
    if (!this.connection.available) {
      // A transaction of this process holds the connection across an await: flush when it ends,
      // unless the oldest write's wait runs out first.
      if (this.#waitingForConnection) return;
      this.#waitingForConnection = true;
      const oldest = this.#queue[0]!.queuedAt;
      void this.connection.whenFree(Math.max(1, oldest + this.busyTimeoutMs - Date.now())).then(() => {
        this.#waitingForConnection = false;
        if (!this.connection.available) this.#expire(Date.now());
        this.#flushNow();
      });
      return;
    }
    const group = this.#queue;
    this.#queue = [];
    const outcomes = this.#run(group);
    if (outcomes === 'busy') return this.#waitForLock(group);
    this.#busyAttempts = 0;
    let changed = 0;
    for (let i = 0; i < group.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        changed++;
        group[i]!.resolve(outcome.value);
      } else {
        group[i]!.reject(outcome.error);
      }
    }
    if (changed > 0) {
      this.#commits++;
      this.#writes += changed;
      if (changed > this.#largestGroup) this.#largestGroup = changed;
      this.afterCommit();
    }
    if (this.#queue.length > 0) {
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    } else {
      this.#notifyDrained();
    }
  }

  #run(group: readonly Pending[]): Outcome[] | 'busy' {
    const s = this.statements();
    try {
      s.begin.run();
    } catch (error) {
      if (isBusy(error)) return 'busy';
      return group.map((pending) => ({ ok: false, error: storeError(error, pending.doing, 'nothing', this.db.name) }));
    }
    const outcomes: Outcome[] = [];
    for (const pending of group) {
      try {
        s.savepoint.run();
        const value = pending.work(s);
        s.releaseSavepoint.run();
        outcomes.push({ ok: true, value });
      } catch (error) {
        if (!this.db.inTransaction) {
          // SQLite gave the whole transaction up (disk full, I/O error): nothing of the group is written.
          const failure = storeError(error, pending.doing, 'nothing', this.db.name);
          return group.map(() => ({ ok: false, error: failure }));
        }
        s.rollbackToSavepoint.run();
        s.releaseSavepoint.run();
        outcomes.push({ ok: false, error: storeError(error, pending.doing, 'nothing', this.db.name) });
      }
    }
    try {
      s.commit.run();
    } catch (error) {
      const written = this.db.inTransaction ? 'nothing' : 'unknown';
      if (this.db.inTransaction) s.rollback.run();
      return outcomes.map((outcome, i) => (outcome.ok ? { ok: false, error: storeError(error, group[i]!.doing, written, this.db.name) } : outcome));
    }
    return outcomes;
  }

  /** Another process holds the write lock: fail what waited too long, keep the rest, try again soon. */
  #waitForLock(group: readonly Pending[]): void {
    this.#queue = [...group, ...this.#queue];
    const now = Date.now();
    this.#expire(now);
    if (this.#queue.length === 0) return this.#notifyDrained();
    const oldest = this.#queue[0]!.queuedAt;
    const delay = Math.min(busyBackoffMs(this.#busyAttempts++), Math.max(1, oldest + this.busyTimeoutMs - now));
    this.#busyTimer = setTimeout(this.#flush, delay);
  }

  #expire(now: number): void {
    const waiting: Pending[] = [];
    for (const pending of this.#queue) {
      const waited = now - pending.queuedAt;
      if (waited >= this.busyTimeoutMs) pending.reject(new StoreBusyError(capitalize(pending.doing), waited));
      else waiting.push(pending);
    }
    this.#queue = waiting;
  }

  #notifyDrained(): void {
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
