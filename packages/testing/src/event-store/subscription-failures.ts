/**
 * Subscriptions fail visibly: a handler that keeps throwing is retried under the failure policy,
 * then stops (status `failed`, events, a log line, `done` rejects) or dead-letters the event with
 * the error and attempts; dead letters can be listed, retried and discarded. Also the start
 * option (`from: 'now'`) and the `live` promise.
 */
import { SubscriptionFailedError, type SubscriptionEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, many, settledLogOf, uniqueCategory } from './fixtures.js';

function recorder(): { events: SubscriptionEvent[]; lines: string[]; logger: { warn(m: string): void; error(m: string): void } } {
  const events: SubscriptionEvent[] = [];
  const lines: string[] = [];
  return {
    events,
    lines,
    logger: {
      warn: (message) => lines.push(`warn ${message}`),
      error: (message) => lines.push(`error ${message}`),
    },
  };
}

export function subscriptionFailureTests(ctx: SuiteContext): void {
  describe('subscription failures', () => {
    it("stops visibly under 'stop': retries with backoff, then status failed, a failed event, an error log line, done rejects", async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      await store.appendToStream(`${category}-1`, many(3));
      const log = await settledLogOf(store, `${category}-`, 3);
      const seen = recorder();
      const subscriptionId = `fail-${category}`;
      const subscription = store.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        failurePolicy: { onFailure: 'stop', maxAttempts: 3, retryDelayMs: 5, maxRetryDelayMs: 8 },
        onEvent: (event) => seen.events.push(event),
        logger: seen.logger,
        handler: (event) => {
          if (event.id === log[1]!.id) throw new Error('mail server down');
        },
      });
      const error = await subscription.done.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SubscriptionFailedError);
      expect((error as SubscriptionFailedError).position).toBe(log[1]!.position);
      expect((error as SubscriptionFailedError).attempts).toBe(3);
      expect(subscription.status).toBe('failed');
      const retries = seen.events.filter((e) => e.type === 'retrying');
      expect(retries.map((e) => (e.type === 'retrying' ? [e.attempts, e.delayMs] : null))).toEqual([
        [1, 5],
        [2, 8],
      ]);
      const failed = seen.events.find((e) => e.type === 'failed');
      expect(failed?.type === 'failed' && failed.failure).toMatchObject({
        position: log[1]!.position,
        eventId: log[1]!.id,
        attempts: 3,
        error: 'Error: mail server down',
      });
      expect(seen.lines.some((line) => line.startsWith('error ') && line.includes(subscriptionId) && line.includes('mail server down'))).toBe(true);
      // The event before the failing one is checkpointed; the failing one is not.
      expect(await store.checkpoints.load(subscriptionId)).toBe(log[0]!.position);
      await expect(subscription.live).rejects.toBeDefined();
    });

    it("dead-letters under 'dead-letter' with the error, attempts and event, moves on; the dead letter can be retried and discarded", async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      await store.appendToStream(`${category}-1`, many(4));
      const log = await settledLogOf(store, `${category}-`, 4);
      const seen = recorder();
      const subscriptionId = `dl-${category}`;
      let broken = true;
      const handled: string[] = [];
      const subscription = store.subscribe({
        subscriptionId,
        filter: { streamPrefixes: [`${category}-`] },
        failurePolicy: { onFailure: 'dead-letter', maxAttempts: 2, retryDelayMs: 1 },
        onEvent: (event) => seen.events.push(event),
        logger: seen.logger,
        handler: (event) => {
          if (broken && (event.id === log[1]!.id || event.id === log[2]!.id)) throw new Error(`cannot handle ${event.id}`);
          handled.push(event.id);
        },
      });
      try {
        await subscription.waitFor(log[3]!.position, 10_000);
        expect(handled).toEqual([log[0]!.id, log[3]!.id]);
        const letters = await store.subscriptionDeadLetters.list(subscriptionId);
        expect(letters.map((l) => [l.position, l.eventId, l.eventType, l.streamId, l.attempts, l.error])).toEqual([
          [log[1]!.position, log[1]!.id, log[1]!.type, `${category}-1`, 2, `Error: cannot handle ${log[1]!.id}`],
          [log[2]!.position, log[2]!.id, log[2]!.type, `${category}-1`, 2, `Error: cannot handle ${log[2]!.id}`],
        ]);
        expect(seen.events.filter((e) => e.type === 'dead-lettered')).toHaveLength(2);
        expect(seen.lines.filter((line) => line.includes('dead-lettered'))).toHaveLength(2);
        await subscription.live;
        expect(subscription.status).toBe('live');
        // Retried while still broken: both stay, with one more attempt each.
        expect(await subscription.retryDeadLetters()).toEqual({ handled: 0, failed: 2 });
        expect((await store.subscriptionDeadLetters.list(subscriptionId)).map((l) => l.attempts)).toEqual([3, 3]);
        broken = false;
        expect(await store.subscriptionDeadLetters.discard(subscriptionId, log[2]!.position)).toBe(true);
        expect(await store.subscriptionDeadLetters.discard(subscriptionId, log[2]!.position)).toBe(false);
        expect(await subscription.retryDeadLetters()).toEqual({ handled: 1, failed: 0 });
        expect(handled).toEqual([log[0]!.id, log[3]!.id, log[1]!.id]);
        expect(await store.subscriptionDeadLetters.list(subscriptionId)).toEqual([]);
      } finally {
        await subscription.stop();
      }
    });

    it("refuses 'dead-letter' on an anonymous subscription and a bad policy, before anything runs", async () => {
      const store = await ctx.store();
      expect(() => store.subscribe({ failurePolicy: { onFailure: 'dead-letter' }, handler: () => undefined })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
      expect(() =>
        store.subscribe({ subscriptionId: 'x', failurePolicy: { onFailure: 'skip' as never }, handler: () => undefined }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => store.subscribe({ from: 'later' as never, handler: () => undefined })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    });

    it("from: 'now' skips the log so far, resumes after a restart without missing events, and `live` resolves when caught up", async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      await store.appendToStream(`${category}-old`, many(5));
      await settledLogOf(store, `${category}-`, 5);
      const subscriptionId = `now-${category}`;
      const seen: string[] = [];
      const options = {
        subscriptionId,
        from: 'now' as const,
        filter: { streamPrefixes: [`${category}-`] },
        pollIntervalMs: 50,
        logger: false as const,
        handler: (event: { streamId: string }) => {
          seen.push(event.streamId);
        },
      };
      const first = store.subscribe(options);
      await first.live;
      expect(first.status).toBe('live');
      await store.appendToStream(`${category}-new`, many(2));
      await eventually(() => expect(seen).toEqual([`${category}-new`, `${category}-new`]));
      await first.stop();
      // Appended while nobody listens: a restart with 'now' still resumes from the checkpoint.
      await store.appendToStream(`${category}-while-down`, many(1));
      const second = store.subscribe(options);
      try {
        await second.live;
        await eventually(() => expect(seen).toEqual([`${category}-new`, `${category}-new`, `${category}-while-down`]));
      } finally {
        await second.stop();
      }
      // An anonymous 'from now' subscription: only what comes after it.
      const later: string[] = [];
      const anonymous = store.subscribe({ from: 'now', filter: { streamPrefixes: [`${category}-`] }, pollIntervalMs: 50, handler: (e) => void later.push(e.streamId) });
      try {
        await anonymous.live;
        await store.appendToStream(`${category}-last`, many(1));
        await eventually(() => expect(later).toEqual([`${category}-last`]));
      } finally {
        await anonymous.stop();
      }
    });
  });
}
