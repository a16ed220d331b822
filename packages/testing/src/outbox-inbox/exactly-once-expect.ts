/**
 * The exactly-once verdict, apart from the harness (`exactly-once.ts`) because child processes
 * import that one and must not load vitest: both kinds of kill happened, every message's guarded
 * effect happened exactly once, and the plain effects show duplicates — the proof the kills hit
 * between an effect and its ack, so that the guarded count could have failed.
 */
import { expect } from 'vitest';
import type { ExactlyOnceResult } from './exactly-once.js';

export function expectExactlyOnce(result: ExactlyOnceResult, messages: number): void {
  expect(result.killed.relay).toBeGreaterThanOrEqual(1);
  expect(result.killed.consumer).toBeGreaterThanOrEqual(1);
  expect(result.guardedDistinct).toBe(messages);
  expect(result.guardedRows).toBe(messages);
  expect(result.plainDistinct).toBe(messages);
  expect(result.plainRows).toBeGreaterThan(messages);
}
