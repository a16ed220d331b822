/** Helpers for core's messaging tests: unique names, bounded waits, and the memory driver with faults put in on purpose. */
import type { ConsumerEvent } from '@eventloom/core';
import { MemoryTransportDriver, type DeadLetterDraft, type ReceivedMessage, type Receiver, type TransportDriver } from '@eventloom/core/adapter';
import { wrapReceivers } from '@eventloom/testing';
import { randomUUID } from 'node:crypto';

export const unique = (prefix: string): string => `${prefix}-${randomUUID()}`;

export async function eventually(check: () => unknown, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a consumer's events, for `onEvent`. */
export function recorder(): { events: ConsumerEvent[]; onEvent: (event: ConsumerEvent) => void } {
  const events: ConsumerEvent[] = [];
  return { events, onEvent: (event) => void events.push(event) };
}

type ReceiverCall = 'receive' | 'ack' | 'retry' | 'deadLetter' | 'release' | 'extend';

export interface Faults {
  /** Throws this from the next calls of `call` (as many as the array holds). */
  fail(call: ReceiverCall, ...errors: unknown[]): void;
  /** `retry` answers 'hold' and leaves the message claimed, as a broker that cannot redeliver in order does. */
  hold: boolean;
  /** Claimed and not yet settled by each receiver, at most, over the driver's life. */
  readonly maxOutstanding: number;
  readonly calls: Record<ReceiverCall, number>;
}

/** The memory driver, with failures injected into its receivers' calls and their outstanding claims counted. */
export function faultyDriver(inner: MemoryTransportDriver = new MemoryTransportDriver()): { driver: TransportDriver; faults: Faults } {
  const queued: Record<ReceiverCall, unknown[]> = { receive: [], ack: [], retry: [], deadLetter: [], release: [], extend: [] };
  const calls: Record<ReceiverCall, number> = { receive: 0, ack: 0, retry: 0, deadLetter: 0, release: 0, extend: 0 };
  let maxOutstanding = 0;
  const faults: Faults = {
    fail: (call, ...errors) => void queued[call].push(...errors),
    hold: false,
    get maxOutstanding() {
      return maxOutstanding;
    },
    calls,
  };
  const check = (call: ReceiverCall): void => {
    calls[call]++;
    if (queued[call].length > 0) throw queued[call].shift();
  };
  const driver = wrapReceivers(inner, (receiver): Receiver => {
    const outstanding = new Set<unknown>();
    const settle = (messages: readonly ReceivedMessage[]): void => messages.forEach((m) => outstanding.delete(m.token));
    return {
      async receive(max, signal) {
        check('receive');
        const got = await receiver.receive(max, signal);
        for (const m of got) outstanding.add(m.token);
        maxOutstanding = Math.max(maxOutstanding, outstanding.size);
        return got;
      },
      async ack(messages) {
        check('ack');
        await receiver.ack(messages);
        settle(messages);
      },
      async retry(message, delayMs, error) {
        check('retry');
        if (faults.hold) return 'hold';
        const answer = await receiver.retry(message, delayMs, error);
        settle([message]);
        return answer;
      },
      async deadLetter(message, draft: DeadLetterDraft) {
        check('deadLetter');
        const deadLetter = await receiver.deadLetter(message, draft);
        settle([message]);
        return deadLetter;
      },
      async release(messages) {
        check('release');
        await receiver.release(messages);
        settle(messages);
      },
      async extend(messages, ms) {
        check('extend');
        await receiver.extend(messages, ms);
      },
      close: () => receiver.close(),
    };
  });
  return { driver, faults };
}
