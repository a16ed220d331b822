/**
 * How a live reader of the log waits: for a wake-up or its poll interval, unless an append it
 * cannot see yet is known (it lies behind a transaction still in flight), in which case it looks
 * again after a short pause that doubles up to the poll interval.
 */
import type { Position } from '@eventloom/core';
import type { AppendWaker } from './waker.js';

const FIRST_RETRY_MS = 5;

export interface LiveReader {
  /** The source's `headPosition`, remembering what the reader last saw. */
  headPosition(): Promise<Position>;
  waitForAppend(timeoutMs: number, signal: AbortSignal): Promise<void>;
}

export function liveReader(waker: AppendWaker, headPosition: () => Promise<Position>): LiveReader {
  let seen = -1n;
  let retryMs = FIRST_RETRY_MS;
  return {
    async headPosition() {
      seen = await headPosition();
      return seen;
    },
    waitForAppend(timeoutMs, signal) {
      if (!waker.pendingBeyond(seen)) {
        retryMs = FIRST_RETRY_MS;
        return waker.signal.wait(timeoutMs, signal);
      }
      const wait = Math.min(retryMs, timeoutMs);
      retryMs = Math.min(retryMs * 2, timeoutMs);
      return waker.signal.wait(wait, signal);
    },
  };
}
