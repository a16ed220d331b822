/** Subscriptions: catch-up then live, checkpoints kept by the store, failures that stop and resume. */
import { SubscriptionFailedError, type RecordedEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, many, settledLogOf, uniqueCategory } from './fixtures.js';

export function subscribeTests(ctx: SuiteContext): void {
  describe('subscribe', () => {
    it('catches up, goes live, and delivers every event once, in order, across the switch', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      for (let i = 0; i < 30; i++) await store.appendToStream(`${category}-${i % 4}`, many(10));
      const seen: RecordedEvent[] = [];
      const subscription = store.subscribe({
        filter: { streamPrefixes: [`${category}-`] },
        batchSize: 37,
        pollIntervalMs: 50,
        handler: async (event) => {
          seen.push(event);
          // Appends while catching up land behind the reader; they must not be lost or repeated.
          if (seen.length === 50) await store.appendToStream(`${category}-9`, many(5));
        },
      });
      try {
        await eventually(() => expect(seen.length).toBe(305));
        for (let i = 0; i < 10; i++) await store.appendToStream(`${category}-live`, many(3));
        await eventually(() => expect(seen.length).toBe(335));
        expect(subscription.status).toBe('live');
        const log = await settledLogOf(store, `${category}-`, 335);
        expect(seen.map((e) => e.id)).toEqual(log.map((e) => e.id));
      } finally {
        await subscription.stop();
      }
      expect(subscription.status).toBe('stopped');
    });

    it('resumes a named subscription from its stored checkpoint with nothing lost or repeated', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const subscriptionId = `sub-${category}`;
      await store.appendToStream(`${category}-1`, many(20));
      const seen: string[] = [];
      const first = store.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        batchSize: 8,
        handler: (event) => {
          seen.push(event.id);
        },
      });
      await eventually(() => expect(seen.length).toBe(20));
      await first.stop();
      const checkpoint = await store.checkpoints.load(subscriptionId);
      expect(checkpoint).toBe(first.position);
      await store.appendToStream(`${category}-2`, many(7));
      const second = store.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        handler: (event) => {
          seen.push(event.id);
        },
      });
      try {
        await eventually(() => expect(seen.length).toBe(27));
        const log = await settledLogOf(store, `${category}-`, 27);
        expect(seen).toEqual(log.map((e) => e.id));
      } finally {
        await second.stop();
      }
    });

    it('starts from a given position when there is no checkpoint', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const result = await store.appendToStream(`${category}-1`, many(10));
      const seen: bigint[] = [];
      const subscription = store.subscribe({
        fromPosition: result.events[6]!.position,
        filter: { streamPrefixes: [`${category}-`] },
        handler: (event) => {
          seen.push(event.streamVersion);
        },
      });
      try {
        await subscription.waitFor(result.position, 10_000);
        expect(seen).toEqual([7n, 8n, 9n, 10n]);
      } finally {
        await subscription.stop();
      }
    });

    it('retries a failing handler, then stops at the failing event, and resumes there once fixed', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const subscriptionId = `fail-${category}`;
      await store.appendToStream(`${category}-1`, many(5));
      const handled: number[] = [];
      let attempts = 0;
      const failing = store.subscribe<{ type: string; data: { n: number } }>({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        maxAttempts: 3,
        retryDelayMs: 5,
        handler: (event) => {
          if (event.data.n === 2) {
            attempts++;
            throw new Error('poison');
          }
          handled.push(event.data.n);
        },
      });
      const error = await failing.done.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SubscriptionFailedError);
      expect((error as SubscriptionFailedError).attempts).toBe(3);
      expect((error as Error).message).toContain('poison');
      expect(attempts).toBe(3);
      expect(failing.status).toBe('failed');
      expect(handled).toEqual([0, 1]);
      const fixed = store.subscribe<{ type: string; data: { n: number } }>({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        handler: (event) => {
          handled.push(event.data.n);
        },
      });
      try {
        await eventually(() => expect(handled).toEqual([0, 1, 2, 3, 4]));
      } finally {
        await fixed.stop();
      }
    });

    it('keeps checkpoints per subscription id', async () => {
      const store = await ctx.store();
      const id = `cp-${uniqueCategory()}`;
      expect(await store.checkpoints.load(id)).toBeNull();
      await store.checkpoints.store(id, 42n);
      await store.checkpoints.store(`${id}-other`, 7n);
      expect(await store.checkpoints.load(id)).toBe(42n);
      await store.checkpoints.store(id, 43n);
      expect(await store.checkpoints.load(id)).toBe(43n);
      expect(await store.checkpoints.load(`${id}-other`)).toBe(7n);
    });
  });
}
