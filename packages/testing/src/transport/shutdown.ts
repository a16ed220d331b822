/**
 * Graceful shutdown: `stop({ drainMs })` stops receiving, waits for in-flight handlers (their
 * messages acked, not delivered again); a handler still running when the drain time is over sees
 * its signal aborted, and its message goes back to the queue for the next consumer.
 */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, deferred, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

const VISIBILITY_MS = 800;

export function shutdownTests(ctx: SuiteContext): void {
  describe('graceful shutdown', () => {
    it('stop({ drainMs }) waits for the in-flight handler to finish; its message is acked, not delivered again', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const started = deferred();
      let finished = 0;
      const options = consumerOptions({ visibilityTimeoutMs: VISIBILITY_MS, prefetch: 1 });
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: async (_m, context) => {
            started.resolve();
            await sleep(300);
            expect(context.signal.aborted).toBe(false);
            finished++;
          },
        },
        options,
      );
      await consumer.ready;
      await transport.send(queue, pings(1));
      await started.promise;
      const stopping = consumer.stop({ drainMs: ctx.scaled(5_000) });
      expect(['stopping', 'stopped']).toContain(consumer.status);
      await stopping;
      expect(finished, 'stop resolved after the handler finished').toBe(1);
      expect(consumer.status).toBe('stopped');
      expect(consumer.handled).toBe(1);
      await consumer.done;
      // Past the visibility timeout: an unacked message would come back now.
      await sleep(VISIBILITY_MS + ctx.scaled(400));
      const again: string[] = [];
      const next = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void again.push(m.id) }, options);
      await next.ready;
      await sleep(ctx.scaled(500));
      expect(again).toEqual([]);
    });

    it('a stopped consumer receives nothing more: messages sent after stop wait for the next consumer', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const first: string[] = [];
      const options = consumerOptions({ visibilityTimeoutMs: VISIBILITY_MS });
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void first.push(m.id) }, options);
      await consumer.ready;
      await consumer.stop();
      const sent = await transport.send(queue, pings(3));
      await sleep(ctx.scaled(300));
      expect(first).toEqual([]);
      const second: string[] = [];
      const next = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void second.push(m.id) }, options);
      await next.ready;
      await eventually(() => expect(new Set(second)).toEqual(new Set(sent.map((s) => s.id))), ctx.scaled(10_000));
    });

    it('a handler longer than drainMs: its signal is aborted, stop resolves, and its message comes back to the next consumer', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const started = deferred();
      let aborted = false;
      const options = consumerOptions({ visibilityTimeoutMs: VISIBILITY_MS, prefetch: 1 });
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: async (_m, context) => {
            started.resolve();
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 30_000);
              context.signal.addEventListener('abort', () => {
                aborted = true;
                clearTimeout(timer);
                resolve();
              });
            });
            throw new Error('gave up: shutting down');
          },
        },
        options,
      );
      await consumer.ready;
      const [sent] = await transport.send(queue, pings(1));
      await started.promise;
      const before = Date.now();
      await consumer.stop({ drainMs: 200 });
      expect(aborted).toBe(true);
      expect(Date.now() - before).toBeLessThan(ctx.scaled(10_000));
      expect(consumer.status).toBe('stopped');
      const again: { id: string; attempt: number }[] = [];
      const next = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void again.push({ id: m.id, attempt: m.attempt }) }, options);
      await next.ready;
      await eventually(() => expect(again.map((a) => a.id)).toEqual([sent!.id]), ctx.scaled(10_000) + VISIBILITY_MS);
      // Handed back, not failed: not dead-lettered.
      expect(await transport.deadLetters.list({ consumer: queue })).toEqual([]);
    });

    it('transport.close() stops its consumers: status stopped, done resolves', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: () => undefined }, consumerOptions());
      await consumer.ready;
      expect(consumer.status).toBe('running');
      await transport.close();
      expect(consumer.status).toBe('stopped');
      await expect(consumer.done).resolves.toBeUndefined();
    });
  });
}
