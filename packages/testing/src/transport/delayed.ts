/**
 * Delayed delivery: a message sent with `delayMs` or `deliverAt` is not delivered before its
 * time and is delivered after it; where the transport can, `cancelScheduled` withdraws it.
 */
import { NotSupportedError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

/** Clocks of a broker or database may lag the test's by a little; never much on one machine. */
const CLOCK_SLACK_MS = 15;
const DELAY_MS = 500;

export function delayedDeliveryTests(ctx: SuiteContext): void {
  describe('delayed delivery', () => {
    it(`delayMs: not delivered before ${DELAY_MS} ms, delivered after; an undelayed message sent later overtakes it`, async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const arrivals: { n: number; at: number }[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void arrivals.push({ n: m.data.n, at: Date.now() }) }, consumerOptions());
      await consumer.ready;
      const sentAt = Date.now();
      const [delayed] = await transport.send(queue, { type: 'Ping', data: { n: 1 }, delayMs: DELAY_MS });
      expect(delayed!.deliverAt).not.toBeNull();
      expect(Date.parse(delayed!.deliverAt!)).toBeGreaterThanOrEqual(sentAt + DELAY_MS - CLOCK_SLACK_MS);
      await transport.send(queue, { type: 'Ping', data: { n: 2 } });
      await eventually(() => expect(arrivals.map((a) => a.n)).toEqual([2, 1]), ctx.scaled(10_000) + DELAY_MS);
      expect(arrivals[1]!.at - sentAt).toBeGreaterThanOrEqual(DELAY_MS - CLOCK_SLACK_MS);
    });

    it('deliverAt (a Date or an ISO string): not delivered before that time, delivered after', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const arrivals: { n: number; at: number }[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void arrivals.push({ n: m.data.n, at: Date.now() }) }, consumerOptions());
      await consumer.ready;
      const at = new Date(Date.now() + DELAY_MS);
      const sent = await transport.send(queue, [
        { type: 'Ping', data: { n: 1 }, deliverAt: at },
        { type: 'Ping', data: { n: 2 }, deliverAt: at.toISOString() },
      ]);
      expect(sent.map((s) => s.deliverAt)).toEqual([at.toISOString(), at.toISOString()]);
      await eventually(() => expect(arrivals).toHaveLength(2), ctx.scaled(10_000) + DELAY_MS);
      for (const arrival of arrivals) expect(arrival.at).toBeGreaterThanOrEqual(at.getTime() - CLOCK_SLACK_MS);
    });

    it('a deliverAt in the past is delivered at once', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const arrivals: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void arrivals.push(m.data.n) }, consumerOptions());
      await consumer.ready;
      await transport.send(queue, { type: 'Ping', data: { n: 1 }, deliverAt: new Date(Date.now() - 60_000) });
      await eventually(() => expect(arrivals).toEqual([1]), ctx.scaled(10_000));
    });

    it('SendOptions.delayMs applies to every message of the send; on a topic too', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const arrivals: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { topic, group }, { Ping: () => void arrivals.push(Date.now()) }, consumerOptions());
      await consumer.ready;
      const sentAt = Date.now();
      const sent = await transport.publish(topic, pings(3), { delayMs: DELAY_MS });
      expect(sent.every((s) => s.deliverAt !== null)).toBe(true);
      await eventually(() => expect(arrivals).toHaveLength(3), ctx.scaled(10_000) + DELAY_MS);
      for (const at of arrivals) expect(at - sentAt).toBeGreaterThanOrEqual(DELAY_MS - CLOCK_SLACK_MS);
    });

    it('cancelScheduled withdraws a delayed message: never delivered; a second cancel, or one of a delivered message, is false', async (test) => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      if (!transport.capabilities.cancelScheduled) {
        // Written down, and checked: the transport refuses with a typed error.
        await expect(transport.cancelScheduled({ queue }, '018f4f5e-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(NotSupportedError);
        return test.skip('capabilities.cancelScheduled is false');
      }
      const arrivals: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void arrivals.push(m.data.n) }, consumerOptions());
      await consumer.ready;
      const [withdrawn] = await transport.send(queue, { type: 'Ping', data: { n: 1 }, delayMs: 300 });
      const [kept] = await transport.send(queue, { type: 'Ping', data: { n: 2 }, delayMs: 300 });
      expect(await transport.cancelScheduled({ queue }, withdrawn!.id)).toBe(true);
      expect(await transport.cancelScheduled({ queue }, withdrawn!.id)).toBe(false);
      await eventually(() => expect(arrivals).toEqual([2]), ctx.scaled(10_000));
      await sleep(ctx.scaled(400));
      expect(arrivals).toEqual([2]);
      expect(await transport.cancelScheduled({ queue }, kept!.id)).toBe(false);
    });

    it('cancelScheduled on a topic withdraws the message from every group', async (test) => {
      const { transport } = await ctx.create();
      if (!transport.capabilities.cancelScheduled) return test.skip('capabilities.cancelScheduled is false');
      const topic = uniqueName('t');
      const groups = [uniqueName('g'), uniqueName('g')];
      const arrivals: string[] = [];
      const consumers = groups.map((group) =>
        ctx.consume<Ping>(transport, { topic, group }, { Ping: (m) => void arrivals.push(`${group}:${m.data.n}`) }, consumerOptions()),
      );
      await Promise.all(consumers.map((c) => c.ready));
      const [withdrawn] = await transport.publish(topic, { type: 'Ping', data: { n: 1 }, delayMs: 300 });
      expect(await transport.cancelScheduled({ topic }, withdrawn!.id)).toBe(true);
      await transport.publish(topic, { type: 'Ping', data: { n: 2 } });
      await eventually(() => expect(arrivals.sort()).toEqual(groups.map((g) => `${g}:2`).sort()), ctx.scaled(10_000));
      await sleep(ctx.scaled(500));
      expect(arrivals).toHaveLength(2);
    });
  });
}
