/**
 * Retries: a failing handler is called again under the failure policy with the attempt counted
 * and the delay growing (exponential backoff, observable in time and in `retrying` events);
 * `context.retry({ delayMs })` hands a message back for later.
 */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, quickPolicy, recorder, sleep, type Ping, uniqueName } from './fixtures.js';

/** Timers may fire a little early by the wall clock (clock granularity); never much. */
const TIMER_SLACK_MS = 5;

export function retryTests(ctx: SuiteContext): void {
  describe('retries', () => {
    it('fails twice, then succeeds: handled on attempt 3, delays 40 then 80 ms (backoff), nothing dead-lettered', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const calls: { attempt: number; at: number }[] = [];
      let succeeded = 0;
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m) => {
            calls.push({ attempt: m.attempt, at: performance.now() });
            if (m.attempt < 3) throw new Error(`flaky ${m.attempt}`);
            succeeded++;
          },
        },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 5, retryDelayMs: 40, maxRetryDelayMs: 1_000 }), onEvent: seen.onEvent }),
      );
      await consumer.ready;
      const [sent] = await transport.send(queue, { type: 'Ping', data: { n: 1 } });
      await eventually(() => expect(succeeded).toBe(1), ctx.scaled(10_000));
      await sleep(ctx.scaled(150));
      expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
      expect(succeeded).toBe(1);
      const retrying = seen.events.flatMap((e) => (e.type === 'retrying' ? [e] : []));
      expect(retrying.map((e) => [e.messageId, e.attempt, e.delayMs])).toEqual([
        [sent!.id, 1, 40],
        [sent!.id, 2, 80],
      ]);
      expect(String(retrying[0]!.error)).toContain('flaky 1');
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(40 - TIMER_SLACK_MS);
      expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(80 - TIMER_SLACK_MS);
      expect(await transport.deadLetters.list({ consumer: queue })).toEqual([]);
    });

    it('the delay stops growing at maxRetryDelayMs', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        { Ping: () => Promise.reject(new Error('always')) },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 5, retryDelayMs: 10, maxRetryDelayMs: 25 }), onEvent: seen.onEvent }),
      );
      await consumer.ready;
      await transport.send(queue, { type: 'Ping', data: { n: 1 } });
      await eventually(() => expect(seen.events.some((e) => e.type === 'dead-lettered')).toBe(true), ctx.scaled(10_000));
      const delays = seen.events.flatMap((e) => (e.type === 'retrying' ? [e.delayMs] : []));
      expect(delays).toEqual([10, 20, 25, 25]);
    });

    it('jitter spreads the delays within the policy’s fraction', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        { Ping: () => Promise.reject(new Error('always')) },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 2, retryDelayMs: 20, maxRetryDelayMs: 20, jitter: 0.5 }), onEvent: seen.onEvent }),
      );
      await consumer.ready;
      await transport.send(queue, Array.from({ length: 12 }, (_, n) => ({ type: 'Ping' as const, data: { n } })));
      await eventually(() => expect(seen.events.filter((e) => e.type === 'dead-lettered')).toHaveLength(12), ctx.scaled(10_000));
      const delays = seen.events.flatMap((e) => (e.type === 'retrying' ? [e.delayMs] : []));
      expect(delays).toHaveLength(12);
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(10);
        expect(delay).toBeLessThanOrEqual(30);
      }
      expect(new Set(delays).size, 'jitter varies the delays').toBeGreaterThan(1);
    });

    it('context.retry({ delayMs }) hands the message back: delivered again no sooner, with attempt 2', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const calls: { attempt: number; at: number }[] = [];
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m, context) => {
            calls.push({ attempt: m.attempt, at: performance.now() });
            if (m.attempt === 1) context.retry({ delayMs: 250 });
          },
        },
        consumerOptions(),
      );
      await consumer.ready;
      await transport.send(queue, { type: 'Ping', data: { n: 1 } });
      await eventually(() => expect(calls).toHaveLength(2), ctx.scaled(10_000));
      await sleep(ctx.scaled(150));
      expect(calls.map((c) => c.attempt)).toEqual([1, 2]);
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(250 - TIMER_SLACK_MS);
      expect(await transport.deadLetters.list({ consumer: queue })).toEqual([]);
    });

    it('a handler that throws a non-Error is retried like any failure and never stops the consumer', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const handled: number[] = [];
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m) => {
            if (m.data.n === 0 && m.attempt === 1) throw 'a string, not an Error';
            if (m.data.n === 1 && m.attempt === 1) throw undefined;
            handled.push(m.data.n);
          },
        },
        consumerOptions(),
      );
      await consumer.ready;
      await transport.send(queue, [0, 1, 2].map((n) => ({ type: 'Ping' as const, data: { n } })));
      await eventually(() => expect([...handled].sort()).toEqual([0, 1, 2]), ctx.scaled(10_000));
      expect(consumer.status).toBe('running');
    });
  });
}
