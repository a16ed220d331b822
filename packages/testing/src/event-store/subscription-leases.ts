/**
 * A named subscription is held by one process at a time: a second subscriber with the same id
 * (another handle on the same storage, as another process has) stands by, takes over when the
 * holder stops, and resumes from the holder's checkpoint — nothing lost, nothing handled by both
 * at once, and the checkpoint never moves backwards.
 */
import type { RecordedEvent, SubscriptionEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, many, settledLogOf, sleep, uniqueCategory } from './fixtures.js';

export function subscriptionLeaseTests(ctx: SuiteContext): void {
  describe('subscription leases', () => {
    it('lets one holder of a named subscription handle events; the other stands by and takes over when it stops', async () => {
      const created = await ctx.created();
      const store = created.store;
      const other = await ctx.reopen(created);
      const category = uniqueCategory();
      const subscriptionId = `lease-${category}`;
      await store.appendToStream(`${category}-1`, many(10));
      const log = await settledLogOf(store, `${category}-`, 10);
      const byFirst: RecordedEvent[] = [];
      const bySecond: RecordedEvent[] = [];
      const events: SubscriptionEvent[] = [];
      const options = {
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        pollIntervalMs: 30,
        leaseMs: 600,
        batchSize: 3,
        logger: false as const,
      };
      const first = store.subscribe({ ...options, handler: (e) => void byFirst.push(e) });
      await first.live;
      const second = other.subscribe({ ...options, onEvent: (e) => events.push(e), handler: (e) => void bySecond.push(e) });
      try {
        await eventually(() => expect(second.status).toBe('standby'));
        expect(events.some((e) => e.type === 'standby')).toBe(true);
        await store.appendToStream(`${category}-2`, many(5));
        await eventually(() => expect(byFirst).toHaveLength(15));
        // Well past several renewals: the standby never handled anything.
        await sleep(700);
        expect(bySecond).toEqual([]);
        expect(second.status).toBe('standby');
        const checkpointBefore = await store.checkpoints.load(subscriptionId);
        await first.stop();
        await other.appendToStream(`${category}-3`, many(4));
        await eventually(() => expect(bySecond).toHaveLength(4));
        expect(events.some((e) => e.type === 'leading')).toBe(true);
        const all = await settledLogOf(store, `${category}-`, 19);
        // Nothing lost or repeated across the handover.
        expect([...byFirst, ...bySecond].map((e) => e.id)).toEqual(all.map((e) => e.id));
        expect(log.every((e) => byFirst.some((b) => b.id === e.id))).toBe(true);
        await eventually(async () => expect(await other.checkpoints.load(subscriptionId)).toBe(all[18]!.position));
        expect((await other.checkpoints.load(subscriptionId))! >= checkpointBefore!).toBe(true);
      } finally {
        await first.stop();
        await second.stop();
      }
    });

    it('hands a named subscription to the standby when the holder stops renewing (its lease runs out)', async () => {
      const created = await ctx.created();
      const store = created.store;
      const other = await ctx.reopen(created);
      const category = uniqueCategory();
      const subscriptionId = `expiry-${category}`;
      const seen: string[] = [];
      let release: () => void = () => undefined;
      const stuck = new Promise<void>((resolve) => (release = resolve));
      // The holder hangs in its handler (as a paused or dying process does) and so stops renewing;
      // should it handle the next event, it would fail, and a failing subscription writes its checkpoint.
      let calls = 0;
      const first = store.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        leaseMs: 300,
        pollIntervalMs: 30,
        failurePolicy: { maxAttempts: 1 },
        logger: false,
        handler: async () => {
          calls++;
          if (calls === 1) return stuck;
          throw new Error('woke up too late');
        },
      });
      await first.live;
      const second = other.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        leaseMs: 300,
        pollIntervalMs: 30,
        logger: false,
        handler: (e) => void seen.push(e.id),
      });
      try {
        await store.appendToStream(`${category}-1`, many(2));
        const log = await settledLogOf(store, `${category}-`, 2);
        await eventually(() => expect(seen).toEqual(log.map((e) => e.id)), 10_000);
        const checkpoint = await other.checkpoints.load(subscriptionId);
        expect(checkpoint).toBe(log[1]!.position);
        // The old holder wakes up: its checkpoint write (at the first event) is fenced off, so the checkpoint never moves back.
        release();
        // It finds its lease gone and stands by; it never writes the checkpoint of the event it held.
        await eventually(() => expect(first.status).toBe('standby'));
        await sleep(100);
        expect(await other.checkpoints.load(subscriptionId)).toBe(log[1]!.position);
        expect(seen).toEqual(log.map((e) => e.id));
      } finally {
        release();
        await first.stop();
        await second.stop();
      }
    });
  });
}
