/**
 * Commits made to the file by other connections — other processes — seen without reading a page:
 * `PRAGMA data_version` changes when another connection commits (never for this connection's own
 * commits, which the stores signal in-process). Polled every few milliseconds, and only while
 * someone waits (a live subscription, a runner, `waitForPosition`), so a process that appends
 * wakes the others' waiters within that time instead of at their next poll.
 */
import type { Statement } from 'better-sqlite3';
import type { ConnectionLock } from './connection-lock.js';
import type { SqliteDatabase } from './open-database.js';

/** How often a waiting connection looks; a look is one pragma, no I/O. */
export const FILE_POLL_MS = 5;

export class FileChanges {
  #statement: Statement<[], number> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #waiting = 0;
  #version: number | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly connection: ConnectionLock,
    /** Called when another connection has committed. */
    private readonly changed: () => void,
  ) {}

  /** Runs `wait` (a wait for a wake-up) while watching the file, so another connection's commit ends it early. */
  watch(wait: () => Promise<void>): Promise<void> {
    this.#waiting++;
    if (this.#timer === undefined) {
      this.#version = this.#read();
      this.#timer = setInterval(() => this.#poll(), FILE_POLL_MS);
      this.#timer.unref();
    }
    return wait().finally(() => {
      if (--this.#waiting === 0) this.stop();
    });
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #poll(): void {
    const version = this.#read();
    if (version === undefined) return;
    const before = this.#version;
    this.#version = version;
    if (before !== undefined && version !== before) this.changed();
  }

  /** Undefined while the connection is in a transaction of this process, or closed: look next time. */
  #read(): number | undefined {
    if (!this.db.open || !this.connection.available) return undefined;
    try {
      this.#statement ??= this.db.prepare<[], number>('PRAGMA data_version').pluck();
      return this.#statement.get();
    } catch {
      // Only a hint: waiters still look on their own poll.
      return undefined;
    }
  }
}
