/**
 * Back-pressure: a consumer whose handler is stalled claims at most `prefetch` messages; the rest
 * stay on the queue for others (so a slow handler never makes memory grow without bound).
 */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, deferred, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

const COUNT = 500;
const PREFETCH = 10;

export function backPressureTests(ctx: SuiteContext): void {
  describe('back-pressure', () => {
    it(`a stalled consumer with prefetch ${PREFETCH} claims at most ${PREFETCH} of ${COUNT}: a second consumer gets at least ${COUNT - PREFETCH}`, async () => {
      const made = await ctx.create();
      const { transport } = made;
      const other = (await ctx.peer(made)) ?? transport;
      const queue = uniqueName('q');
      const unstall = deferred();
      let stalledStarts = 0;
      // Long visibility: the stalled consumer keeps what it claimed for the whole test.
      const options = consumerOptions({ prefetch: PREFETCH, concurrency: 1, visibilityTimeoutMs: 30_000 });
      const stalled = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: async (_m, context) => {
            stalledStarts++;
            await Promise.race([unstall.promise, new Promise((resolve) => context.signal.addEventListener('abort', resolve))]);
          },
        },
        options,
      );
      await stalled.ready;
      const sent = await transport.send(queue, pings(COUNT));
      expect(sent).toHaveLength(COUNT);
      await eventually(() => expect(stalledStarts).toBe(1), ctx.scaled(10_000));
      // Let it claim all it will.
      await sleep(ctx.scaled(300));
      const byOther = new Set<string>();
      const free = ctx.consume<Ping>(other, { queue }, { Ping: (m) => void byOther.add(m.id) }, options);
      await free.ready;
      await eventually(() => expect(byOther.size).toBeGreaterThanOrEqual(COUNT - PREFETCH), ctx.scaled(20_000));
      expect(stalledStarts, 'concurrency 1: one stalled handler').toBe(1);
      unstall.resolve();
      // Once unstalled, everything is handled, the stalled consumer's share included.
      await eventually(() => expect(stalled.handled + free.handled).toBe(COUNT), ctx.scaled(20_000));
      expect(stalled.handled).toBeLessThanOrEqual(PREFETCH);
    });
  });
}
