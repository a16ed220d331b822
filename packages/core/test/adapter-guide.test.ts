/**
 * The building blocks of @eventloom/core/adapter as docs/adapters.md shows them: an adapter's
 * append checks and `subscribe` written with core's rules instead of its own.
 */
import { MemoryEventStore, WrongExpectedVersionError, type RecordedEvent } from '@eventloom/core';
import { AppendSignal, checkExpectedVersion, prepareAppend, startSubscription, type SubscriptionSource } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

describe('adapter building blocks (docs/adapters.md)', () => {
  it('prepareAppend validates and fills in an append; checkExpectedVersion applies the one concurrency rule', async () => {
    // #region prepare-append
    // Validates the stream id, expected version and every event (against the store's schema
    // registry, if it has one), and fills in ids, schema versions and correlation; the adapter
    // stores what comes back.
    const events = [{ type: 'OrderPlaced', data: { total: 30 } }];
    const prepared = await prepareAppend('order-1', events, { expectedVersion: 'no_stream' }, undefined);
    // Inside the adapter's transaction, with the stream's current state as it reads it:
    checkExpectedVersion(prepared.streamId, prepared.expected, { version: 0n, visible: false });
    // #endregion prepare-append
    expect(prepared.events).toHaveLength(1);
    expect(prepared.events[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => checkExpectedVersion(prepared.streamId, prepared.expected, { version: 2n, visible: true })).toThrow(WrongExpectedVersionError);
  });

  it('startSubscription turns a readAll, a head and a wake-up into catch-up-then-live subscriptions', async () => {
    const storage = new MemoryEventStore();
    // #region subscription-source
    // What the adapter gives core's subscription loop; `leases` and `deadLetters` (optional)
    // add one-holder-at-a-time named subscriptions and the `dead-letter` failure policy.
    const appended = new AppendSignal(); // the adapter calls appended.notify() after each commit
    const source: SubscriptionSource = {
      readAll: (options) => storage.readAll(options),
      headPosition: () => storage.headPosition(),
      checkpoints: storage.checkpoints,
      waitForAppend: (timeoutMs, signal) => appended.wait(timeoutMs, signal),
    };
    const seen: RecordedEvent[] = [];
    const subscription = startSubscription(source, { handler: (event) => void seen.push(event), logger: false });
    // #endregion subscription-source
    try {
      const { position } = await storage.appendToStream('order-1', [{ type: 'OrderPlaced', data: {} }]);
      appended.notify();
      await subscription.waitFor(position, 10_000);
      expect(seen.map((event) => event.type)).toEqual(['OrderPlaced']);
    } finally {
      await subscription.stop();
    }
  });
});
