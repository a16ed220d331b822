/**
 * How a live reader of the log waits: for a wake-up or its poll interval. A wake-up always finds
 * what it announces: appends of a tenant commit in position order and readers have no bound.
 */
import type { Position } from '@eventloom/core';
import type { AppendWaker } from './waker.js';

export interface LiveReader {
  /** The source's `headPosition`. */
  headPosition(): Promise<Position>;
  waitForAppend(timeoutMs: number, signal: AbortSignal): Promise<void>;
}

export function liveReader(waker: AppendWaker, headPosition: () => Promise<Position>): LiveReader {
  return {
    headPosition,
    waitForAppend: (timeoutMs, signal) => waker.signal.wait(timeoutMs, signal),
  };
}
