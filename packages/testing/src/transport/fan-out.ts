/**
 * Topics: every group gets every message; consumers inside a group compete; a group exists from
 * its `declare` (or first `consume`) on and gets what is published from then, even before its
 * consumer starts — and not what was published before it existed.
 */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, counts, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

export function fanOutTests(ctx: SuiteContext): void {
  describe('fan-out', () => {
    it('3 groups each get every message once', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const groups = [uniqueName('g'), uniqueName('g'), uniqueName('g')];
      const got = new Map<string, string[]>(groups.map((g) => [g, []]));
      const consumers = groups.map((group) =>
        ctx.consume<Ping>(transport, { topic, group }, { Ping: (m) => void got.get(group)!.push(m.id) }, consumerOptions()),
      );
      await Promise.all(consumers.map((c) => c.ready));
      const sent = (await transport.publish(topic, pings(12))).map((s) => s.id);
      for (const group of groups) {
        await eventually(() => expect(got.get(group)).toHaveLength(12), ctx.scaled(10_000));
      }
      await sleep(ctx.scaled(200));
      for (const group of groups) {
        expect(got.get(group)).toHaveLength(12);
        expect(new Set(got.get(group))).toEqual(new Set(sent));
      }
    });

    it('two consumers in one group share the messages: each once in the group, both got work; another group still gets all', async () => {
      const made = await ctx.create();
      const { transport } = made;
      const other = (await ctx.peer(made)) ?? transport;
      const topic = uniqueName('t');
      const shared = uniqueName('g');
      const solo = uniqueName('g');
      const inShared: { id: string; by: 'a' | 'b' }[] = [];
      const inSolo: string[] = [];
      const options = consumerOptions({ prefetch: 2, concurrency: 1 });
      const handler = (by: 'a' | 'b') => async (m: { id: string }) => {
        inShared.push({ id: m.id, by });
        await sleep(10);
      };
      const consumers = [
        ctx.consume<Ping>(transport, { topic, group: shared }, { Ping: handler('a') }, options),
        ctx.consume<Ping>(other, { topic, group: shared }, { Ping: handler('b') }, options),
        ctx.consume<Ping>(transport, { topic, group: solo }, { Ping: (m) => void inSolo.push(m.id) }, options),
      ];
      await Promise.all(consumers.map((c) => c.ready));
      const sent = (await transport.publish(topic, pings(30))).map((s) => s.id);
      await eventually(() => {
        expect(inShared).toHaveLength(30);
        expect(inSolo).toHaveLength(30);
      }, ctx.scaled(15_000));
      await sleep(ctx.scaled(200));
      expect([...counts(inShared.map((h) => h.id)).values()].every((n) => n === 1)).toBe(true);
      expect(new Set(inShared.map((h) => h.id))).toEqual(new Set(sent));
      expect(new Set(inSolo)).toEqual(new Set(sent));
      const byA = inShared.filter((h) => h.by === 'a').length;
      expect(byA, 'both consumers of the group got work').toBeGreaterThan(0);
      expect(30 - byA, 'both consumers of the group got work').toBeGreaterThan(0);
    });

    it('a group declared before a publish gets those messages when its consumer starts later', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const group = uniqueName('g');
      await transport.declare([{ topic, group }]);
      await transport.declare([{ topic, group }]); // idempotent
      const sent = (await transport.publish(topic, pings(5))).map((s) => s.id);
      const got: string[] = [];
      const consumer = ctx.consume<Ping>(transport, { topic, group }, { Ping: (m) => void got.push(m.id) }, consumerOptions());
      await consumer.ready;
      await eventually(() => expect(new Set(got)).toEqual(new Set(sent)), ctx.scaled(10_000));
      expect(got).toHaveLength(5);
    });

    it('messages published before a group existed are not delivered to it (a group gets what is published from its creation on)', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const early = uniqueName('g');
      const late = uniqueName('g');
      await transport.declare([{ topic, group: early }]);
      const before = (await transport.publish(topic, pings(3, 0))).map((s) => s.id);
      await transport.declare([{ topic, group: late }]);
      const after = (await transport.publish(topic, pings(3, 100))).map((s) => s.id);
      const gotLate: string[] = [];
      const gotEarly: string[] = [];
      const consumers = [
        ctx.consume<Ping>(transport, { topic, group: late }, { Ping: (m) => void gotLate.push(m.id) }, consumerOptions()),
        ctx.consume<Ping>(transport, { topic, group: early }, { Ping: (m) => void gotEarly.push(m.id) }, consumerOptions()),
      ];
      await Promise.all(consumers.map((c) => c.ready));
      await eventually(() => {
        expect(new Set(gotLate)).toEqual(new Set(after));
        expect(new Set(gotEarly)).toEqual(new Set([...before, ...after]));
      }, ctx.scaled(10_000));
      await sleep(ctx.scaled(300));
      expect(gotLate.filter((id) => before.includes(id))).toEqual([]);
      expect(gotLate).toHaveLength(3);
    });

    it('a topic with no group: publish succeeds and a group created afterwards gets nothing of it', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const lost = await transport.publish(topic, pings(2));
      expect(lost).toHaveLength(2);
      const got: string[] = [];
      const consumer = ctx.consume<Ping>(transport, { topic, group }, { Ping: (m) => void got.push(m.id) }, consumerOptions());
      await consumer.ready;
      const [marker] = await transport.publish(topic, pings(1, 9));
      await eventually(() => expect(got).toContain(marker!.id), ctx.scaled(10_000));
      await sleep(ctx.scaled(200));
      expect(got).toEqual([marker!.id]);
    });
  });
}
