/**
 * One SQLite connection has one transaction at a time, shared by everything that runs SQL on it:
 * a statement run while a transaction is open becomes part of it (and sees its uncommitted
 * writes, and is rolled back with it). Synchronous work cannot interleave with anything, but a
 * transaction that stays open across an `await` (a handler that awaits) can. So each connection
 * has this lock:
 *
 * - a transaction that may await holds it from BEGIN to COMMIT (`exclusive`);
 * - synchronous work (a read, a one-statement write, a group commit without inline handlers)
 *   runs at once when the lock is free, and otherwise waits for it (`whenFree`) — so the cost
 *   when nothing awaits is one property check;
 * - code running inside the holder (the handler itself, and what it awaits) is the transaction:
 *   it passes straight through, so a handler may read and write on the connection, and a
 *   read-model transaction begun inside an append's transaction nests as a savepoint.
 *
 * "Inside the holder" is tracked with AsyncLocalStorage, and ends when the transaction does: a
 * promise the handler left running and that touches the connection later waits like anyone else.
 *
 * Waits are bounded by the store's busy timeout, like waits for another process's lock: a handler
 * that awaits something which itself waits for the connection (another request's append) would
 * otherwise wait for itself forever; it gets StoreBusyError instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreBusyError } from '@eventloom/core';
import type { SqliteDatabase } from './open-database.js';

interface Holder {
  readonly lock: ConnectionLock;
}

const context = new AsyncLocalStorage<Holder>();
const locks = new WeakMap<SqliteDatabase, ConnectionLock>();

/** Runs `fn` outside any transaction's context (work scheduled for no one caller, such as a group commit). */
export function outsideTransactions<T>(fn: () => T): T {
  return context.exit(fn);
}

/** The lock of `db`, shared by every store on that connection. */
export function connectionLock(db: SqliteDatabase): ConnectionLock {
  let lock = locks.get(db);
  if (!lock) locks.set(db, (lock = new ConnectionLock()));
  return lock;
}

export class ConnectionLock {
  #holder: Holder | null = null;
  #waiters: (() => void)[] = [];
  #afterRelease: (() => void)[] = [];

  /** Whether the caller may run SQL on the connection right now: nobody holds it, or the caller is inside the holder. */
  get available(): boolean {
    return this.#holder === null || this.insideHolder;
  }

  /** Whether the caller runs inside the transaction that holds the lock. */
  get insideHolder(): boolean {
    const holder = this.#holder;
    return holder !== null && context.getStore() === holder;
  }

  /**
   * Resolves when the caller may run SQL. Whoever awaits it must look at `available` again when it
   * resumes (someone else may have taken the lock in between): `while (!lock.available) await lock.whenFree()`.
   */
  whenFree(timeoutMs = Infinity): Promise<void> {
    if (this.available) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          const at = this.#waiters.indexOf(wake);
          if (at >= 0) this.#waiters.splice(at, 1);
          resolve();
        }, Math.max(1, timeoutMs));
      }
    });
  }

  /**
   * Waits until the caller may run SQL, at most `timeoutMs` from `started`.
   * @throws StoreBusyError naming `operation` once that has passed
   */
  async waitFree(operation: string, timeoutMs: number, started = Date.now()): Promise<void> {
    while (!this.available) {
      const waited = Date.now() - started;
      if (waited >= timeoutMs) throw inProcessBusy(operation, waited);
      await this.whenFree(timeoutMs - waited);
    }
  }

  /** Calls `done` once the transaction holding the lock has ended (at once when none does): after its COMMIT or ROLLBACK. */
  afterRelease(done: () => void): void {
    if (this.#holder === null) done();
    else this.#afterRelease.push(done);
  }

  /**
   * Runs `fn` holding the lock; `fn` may await, and nothing outside it runs SQL on the connection
   * until it settles. Re-entrant: called inside the holder, `fn` just runs (the caller nests).
   */
  async exclusive<T>(fn: () => Promise<T>, wait?: { readonly operation: string; readonly timeoutMs: number }): Promise<T> {
    if (this.insideHolder) return fn();
    const started = Date.now();
    // The look and the taking happen in one synchronous step: nobody can take it in between.
    while (this.#holder !== null) {
      const waited = Date.now() - started;
      if (wait !== undefined && waited >= wait.timeoutMs) throw inProcessBusy(wait.operation, waited);
      await this.whenFree(wait === undefined ? Infinity : wait.timeoutMs - waited);
    }
    const holder: Holder = { lock: this };
    this.#holder = holder;
    try {
      return await context.run(holder, fn);
    } finally {
      this.#holder = null;
      for (const done of this.#afterRelease.splice(0)) done();
      // Wake everyone: synchronous waiters all run now, in order; the first `exclusive` takes it again.
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }
}

function inProcessBusy(operation: string, waited: number): StoreBusyError {
  return new StoreBusyError(operation.charAt(0).toUpperCase() + operation.slice(1), waited, {
    cause: new Error(
      "this process's own transaction on the connection stayed open: a handler is awaiting, possibly something that waits for this same connection",
    ),
  });
}
