/**
 * Competing consumers on a queue: each message is handled by one consumer (no crash, so exactly
 * once overall), and every consumer gets a share of the work — in one process, and across two
 * (`peer`).
 */
import type { Transport } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, counts, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

const COUNT = 40;

async function competeOn(ctx: SuiteContext, sender: Transport, a: Transport, b: Transport): Promise<void> {
  const queue = uniqueName('q');
  const handledBy: { id: string; by: 'a' | 'b' }[] = [];
  // A small prefetch and a handler that takes a while, so one consumer cannot take everything.
  const options = consumerOptions({ prefetch: 2, concurrency: 1 });
  const handler = (by: 'a' | 'b') => async (message: { id: string }) => {
    handledBy.push({ id: message.id, by });
    await sleep(10);
  };
  const first = ctx.consume<Ping>(a, { queue }, { Ping: handler('a') }, options);
  const second = ctx.consume<Ping>(b, { queue }, { Ping: handler('b') }, options);
  await Promise.all([first.ready, second.ready]);
  const sent = await sender.send(queue, pings(COUNT));
  await eventually(() => expect(handledBy).toHaveLength(COUNT), ctx.scaled(15_000));
  // Nothing more arrives late.
  await sleep(ctx.scaled(200));
  expect(handledBy).toHaveLength(COUNT);
  expect([...counts(handledBy.map((h) => h.id)).entries()].filter(([, n]) => n !== 1)).toEqual([]);
  expect(new Set(handledBy.map((h) => h.id))).toEqual(new Set(sent.map((s) => s.id)));
  const byA = handledBy.filter((h) => h.by === 'a').length;
  expect(byA, 'both consumers got work').toBeGreaterThan(0);
  expect(COUNT - byA, 'both consumers got work').toBeGreaterThan(0);
  await eventually(() => expect(first.handled + second.handled).toBe(COUNT), ctx.scaled(5_000));
}

export function competingConsumerTests(ctx: SuiteContext): void {
  describe('competing consumers', () => {
    it(`two consumers of one queue in one process: each of ${COUNT} messages handled once, both got work`, async () => {
      const { transport } = await ctx.create();
      await competeOn(ctx, transport, transport, transport);
    });

    it(`two consumers of one queue on two connections (peer): each of ${COUNT} messages handled once, both got work`, async (test) => {
      const made = await ctx.create();
      const peer = await ctx.peer(made);
      if (!peer) return test.skip('the transport has no peer (a second connection on the same storage)');
      await competeOn(ctx, made.transport, made.transport, peer);
    });

    it('a consumer started after the send gets what was sent to the queue before it existed', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      await transport.declare([{ queue }]);
      const sent = await transport.send(queue, pings(5));
      const handled: string[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void handled.push(m.id) }, consumerOptions());
      await consumer.ready;
      await eventually(() => expect(new Set(handled)).toEqual(new Set(sent.map((s) => s.id))), ctx.scaled(10_000));
    });
  });
}
