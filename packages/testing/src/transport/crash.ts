/**
 * A consumer killed mid-message (its transport abandoned, nothing released): the message comes
 * back after the visibility timeout to another consumer, with the attempt counted, nothing lost.
 */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, deferred, eventually, pings, type Ping, uniqueName } from './fixtures.js';

const VISIBILITY_MS = 1_000;

/** A handler that runs until the suite stops its consumer after the test (a crashed process's never returns). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export function crashTests(ctx: SuiteContext): void {
  describe('crash', () => {
    it('a consumer crashed mid-message: the message is delivered to another consumer with attempt ≥ 2; the others too', async (test) => {
      const made = await ctx.create();
      if (!made.crash) return test.skip('the transport has no crash hook');
      const victim = await ctx.peer(made);
      if (!victim) return test.skip('the transport has no peer to crash');
      const queue = uniqueName('q');
      const options = consumerOptions({ visibilityTimeoutMs: VISIBILITY_MS, prefetch: 4, concurrency: 1 });
      const holding = deferred<string>();
      const dying = ctx.consume<Ping>(
        victim,
        { queue },
        {
          // Does not finish: the process "dies" inside the handler.
          Ping: (m, context) => {
            holding.resolve(m.id);
            return untilAborted(context.signal);
          },
        },
        options,
      );
      await dying.ready;
      const sent = await made.transport.send(queue, pings(5));
      const held = await holding.promise;
      await made.crash(victim);
      const handled: { id: string; attempt: number }[] = [];
      const survivor = ctx.consume<Ping>(made.transport, { queue }, { Ping: (m) => void handled.push({ id: m.id, attempt: m.attempt }) }, options);
      await survivor.ready;
      await eventually(() => expect(new Set(handled.map((h) => h.id))).toEqual(new Set(sent.map((s) => s.id))), ctx.scaled(15_000) + VISIBILITY_MS);
      const heldAgain = handled.find((h) => h.id === held)!;
      expect(heldAgain.attempt, 'the crashed delivery counts as an attempt').toBeGreaterThanOrEqual(2);
      expect(await made.transport.deadLetters.list({ consumer: queue })).toEqual([]);
    });

    it('a crashed topic-group member: its message goes to the other member of the group', async (test) => {
      const made = await ctx.create();
      if (!made.crash) return test.skip('the transport has no crash hook');
      const victim = await ctx.peer(made);
      if (!victim) return test.skip('the transport has no peer to crash');
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const options = consumerOptions({ visibilityTimeoutMs: VISIBILITY_MS, prefetch: 1, concurrency: 1 });
      await made.transport.declare([{ topic, group }]);
      const holding = deferred<string>();
      const dying = ctx.consume<Ping>(
        victim,
        { topic, group },
        {
          Ping: (m, context) => {
            holding.resolve(m.id);
            return untilAborted(context.signal);
          },
        },
        options,
      );
      await dying.ready;
      const [sent] = await made.transport.publish(topic, pings(1));
      expect(await holding.promise).toBe(sent!.id);
      await made.crash(victim);
      const handled: { id: string; attempt: number }[] = [];
      const survivor = ctx.consume<Ping>(made.transport, { topic, group }, { Ping: (m) => void handled.push({ id: m.id, attempt: m.attempt }) }, options);
      await survivor.ready;
      await eventually(() => expect(handled.map((h) => h.id)).toEqual([sent!.id]), ctx.scaled(15_000) + VISIBILITY_MS);
      expect(handled[0]!.attempt).toBeGreaterThanOrEqual(2);
    });
  });
}
