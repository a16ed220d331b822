/**
 * Waiting for another process's write lock without blocking the event loop. Connections run with
 * `busy_timeout = 0`, so SQLite answers SQLITE_BUSY at once instead of sleeping inside a
 * synchronous call; the caller retries on a timer, backing off, until the store's `busyTimeoutMs`
 * has passed, and then gives up with StoreBusyError (nothing was written).
 */
import { StoreBusyError } from '@eventloom/core';
import type { ConnectionLock } from './connection-lock.js';

export function isBusy(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'));
}

/** Delay before retry `attempt` (0-based): 1, 2, 4 … ms, at most 50 ms, with jitter so waiting processes spread out. */
export function busyBackoffMs(attempt: number): number {
  const base = Math.min(50, 2 ** Math.min(attempt, 6));
  return base * (0.75 + Math.random() * 0.5);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `work` (which must change nothing when it meets SQLITE_BUSY: a single statement, or a
 * transaction from its BEGIN) until it gets the lock. Other errors pass through. With `connection`,
 * each attempt first waits for the connection's own transaction (held across an await) to end.
 * @throws StoreBusyError once `busyTimeoutMs` has passed
 */
export async function retryWhileBusy<T>(operation: string, busyTimeoutMs: number, work: () => T, connection?: ConnectionLock): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      // This process's own transaction first (bounded by the same timeout), then the work.
      if (connection !== undefined && !connection.available) await connection.waitFree(operation, busyTimeoutMs, started);
      return work();
    } catch (error) {
      if (!isBusy(error)) throw error;
      const waited = Date.now() - started;
      if (waited >= busyTimeoutMs) throw new StoreBusyError(operation.charAt(0).toUpperCase() + operation.slice(1), waited, { cause: error });
      await sleep(Math.min(busyBackoffMs(attempt), Math.max(1, busyTimeoutMs - waited)));
    }
  }
}
