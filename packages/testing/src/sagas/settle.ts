/**
 * Waits until all cascading work of a test has finished: every subscription (and consumer-group
 * member) has handled the log up to its head, and the head no longer moves — a handler's appends
 * wake the others, whose appends wake others… Due timers are fired on the way when given. No
 * sleeps in the test: it returns as soon as the system is quiet, and fails after `timeoutMs`.
 */
import type { EventStore, TimerService } from '@eventloom/core';

export interface Settleable {
  waitFor(position: bigint, timeoutMs?: number): Promise<void>;
}

export interface SettleOptions {
  readonly store: EventStore;
  readonly consumers: readonly Settleable[];
  /** Fired (`fireDue`) on each round, so work a due timer starts is waited for too. */
  readonly timers?: readonly TimerService[];
  /** Default 10,000 ms. */
  readonly timeoutMs?: number;
}

/** Resolves with the head position the system settled at. */
export async function settle(options: SettleOptions): Promise<bigint> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const head = await options.store.headPosition();
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`settle: the system did not become quiet within ${options.timeoutMs ?? 10_000} ms (head ${head})`);
    await Promise.all(options.consumers.map((c) => c.waitFor(head, left)));
    let fired = 0;
    for (const timers of options.timers ?? []) fired += await timers.fireDue();
    if (fired === 0 && (await options.store.headPosition()) === head) return head;
  }
}
