/**
 * Subscriptions over a store that fails now and then: transient errors (STORE_UNAVAILABLE,
 * STORE_BUSY) are waited out and the subscription reads on, delivering each event once; other
 * errors stop it visibly. Waits end with typed errors.
 */
import { InvalidEventError, MemoryEventStore, StoreBusyError, StoreUnavailableError, SubscriptionStoppedError, SubscriptionWaitTimeoutError, type Event, type EventStore, type ReadAllOptions, type SubscriptionEvent, type WholeEvents } from '@eventloom/core';
import { startSubscription, type SubscriptionSource } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

/** A subscription source over `store` whose reads and checkpoint writes throw `fail()`'s error while `failing.on`. */
function flaky(store: EventStore, failing: { on: boolean; fail: () => Error; failures: number }): SubscriptionSource {
  const check = (): void => {
    if (!failing.on) return;
    failing.failures++;
    throw failing.fail();
  };
  return {
    headPosition: async () => (check(), store.headPosition()),
    readAll: async function* <E extends Event>(options: ReadAllOptions & WholeEvents) {
      for await (const event of store.readAll<E>(options)) {
        check();
        yield event;
      }
    },
    checkpoints: {
      load: async (id) => (check(), store.checkpoints.load(id)),
      store: async (id, position) => (check(), store.checkpoints.store(id, position)),
    },
    waitForAppend: (ms, signal) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      }),
  };
}

const append = (store: EventStore, n: number) =>
  store.appendToStream(`s-${n}`, [{ type: 'Happened', data: { n } }]).then((r) => r.position);

describe('subscriptions and transient store errors', () => {
  it('wait out STORE_UNAVAILABLE and STORE_BUSY, reporting each retry, and deliver every event exactly once, never failing', async () => {
    const inner = new MemoryEventStore();
    const failing = { on: false, failures: 0, fail: (): Error => new StoreUnavailableError('connection lost during readAll') };
    const seen: number[] = [];
    const reported: SubscriptionEvent[] = [];
    const warnings: string[] = [];
    const subscription = startSubscription<Event<'Happened', { n: number }>>(flaky(inner, failing), {
      subscriptionId: 'flaky-1',
      retryDelayMs: 5,
      pollIntervalMs: 10,
      onEvent: (event) => reported.push(event),
      logger: { warn: (line) => warnings.push(line), error: (line) => warnings.push(`ERROR ${line}`) },
      handler: (event) => void seen.push(event.data.n),
    });
    let last = 0n;
    let failuresAtOutage = 0;
    for (let n = 0; n < 60; n++) {
      // Outages come and go while events are appended, of both transient kinds.
      if (n % 10 === 3) {
        failing.on = true;
        failuresAtOutage = failing.failures;
        failing.fail = n % 20 === 3 ? () => new StoreUnavailableError('connection lost') : () => new StoreBusyError('readAll', 10);
      }
      if (n % 10 === 6) {
        // Each outage lasts until the subscription has met it at least twice, however loaded the machine.
        const until = Date.now() + 5_000;
        while (failing.failures < failuresAtOutage + 2 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
        failing.on = false;
      }
      last = await append(inner, n);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    failing.on = false;
    await subscription.waitFor(last, 10_000);
    expect(failing.failures).toBeGreaterThan(5);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(subscription.status).toBe('live');
    await subscription.stop();
    expect(await inner.checkpoints.load('flaky-1')).toBe(last);
    // Each failure was reported as an error it will retry, and logged as a warning: never silent.
    const errors = reported.filter((e) => e.type === 'error');
    expect(errors).toHaveLength(failing.failures);
    expect(errors.every((e) => e.type === 'error' && e.willRetry && e.subscription === 'flaky-1')).toBe(true);
    expect(new Set(errors.map((e) => (e.type === 'error' ? (e.error as { code: string }).code : '')))).toEqual(new Set(['STORE_UNAVAILABLE', 'STORE_BUSY']));
    expect(warnings.filter((line) => line.includes('subscription flaky-1: store error, retrying'))).toHaveLength(failing.failures);
    expect(warnings.some((line) => line.startsWith('ERROR'))).toBe(false);
  });

  it('stop, visibly, on an error retrying cannot fix', async () => {
    const inner = new MemoryEventStore();
    await append(inner, 1);
    const failing = { on: true, failures: 0, fail: (): Error => new InvalidEventError('data', 'broken') };
    const reported: SubscriptionEvent[] = [];
    const lines: string[] = [];
    const subscription = startSubscription(flaky(inner, failing), {
      handler: () => undefined,
      retryDelayMs: 5,
      onEvent: (event) => reported.push(event),
      logger: { warn: (line) => lines.push(line), error: (line) => lines.push(`ERROR ${line}`) },
    });
    await expect(subscription.done).rejects.toBeInstanceOf(InvalidEventError);
    expect(reported).toMatchObject([{ type: 'error', willRetry: false, subscription: '(anonymous)' }]);
    expect(lines).toEqual([expect.stringMatching(/^ERROR \[eventloom\] subscription \(anonymous\) stopped on an error: InvalidEventError/)]);
    expect(subscription.status).toBe('failed');
    expect(failing.failures).toBe(1);
    const waited = await subscription.waitFor(1n, 100).catch((e: unknown) => e);
    expect(waited).toBeInstanceOf(SubscriptionStoppedError);
    expect((waited as SubscriptionStoppedError).cause).toBeInstanceOf(InvalidEventError);
  });
});

describe('Subscription.waitFor', () => {
  it('times out with SUBSCRIPTION_WAIT_TIMEOUT, and ends with SUBSCRIPTION_STOPPED when stopped', async () => {
    const store = new MemoryEventStore();
    const subscription = store.subscribe({ subscriptionId: 'waits', handler: () => undefined });
    const timedOut = await subscription.waitFor(5n, 30).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(SubscriptionWaitTimeoutError);
    expect(timedOut).toMatchObject({ code: 'SUBSCRIPTION_WAIT_TIMEOUT', subscriptionId: 'waits', position: 5n, timeoutMs: 30 });
    const pending = subscription.waitFor(5n, 10_000).catch((e: unknown) => e);
    await subscription.stop();
    expect(await pending).toMatchObject({ code: 'SUBSCRIPTION_STOPPED', subscriptionId: 'waits' });
    expect(await subscription.waitFor(5n).catch((e: unknown) => e)).toBeInstanceOf(SubscriptionStoppedError);
  });
});
