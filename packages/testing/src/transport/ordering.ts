/**
 * Partition keys: messages with one key are handled one at a time in send order within a
 * queue or group, different keys at once; a retried message holds back the later messages of
 * its key (order kept) while other keys go on.
 */
import type { OutgoingMessage, Transport } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, quickPolicy, sleep, type Ping, uniqueName } from './fixtures.js';

const KEYS = ['k0', 'k1', 'k2', 'k3'];
const PER_KEY = 15;

/** PER_KEY messages for each key, interleaved: k0#0, k1#0, …, k0#1, … */
function keyed(): OutgoingMessage<Ping>[] {
  const messages: OutgoingMessage<Ping>[] = [];
  for (let n = 0; n < PER_KEY; n++) for (const key of KEYS) messages.push({ type: 'Ping', data: { n, key }, partitionKey: key });
  return messages;
}

/** What the handlers saw: successful handlings per key, every start, how much ran at once. */
class Observer {
  /** Successful handlings, per key, in the order they finished. */
  readonly done = new Map<string, number[]>();
  /** Every handler start, as `key#n`. */
  readonly starts: string[] = [];
  maxInFlight = 0;
  maxInFlightPerKey = 0;
  readonly #inFlight = new Map<string, number>();
  #total = 0;

  /** A handler that takes a few ms, and throws on the first attempt of the messages `failFirst` picks. */
  handler(failFirst?: (key: string, n: number) => boolean): (m: { readonly data: Ping['data']; readonly attempt: number }) => Promise<void> {
    return async (m) => {
      const key = m.data.key!;
      this.starts.push(`${key}#${m.data.n}`);
      this.#total++;
      this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
      this.maxInFlight = Math.max(this.maxInFlight, this.#total);
      this.maxInFlightPerKey = Math.max(this.maxInFlightPerKey, this.#inFlight.get(key)!);
      try {
        await sleep(3 + (m.data.n % 3) * 3);
        if (failFirst?.(key, m.data.n) && m.attempt === 1) throw new Error(`first attempt of ${key}#${m.data.n} fails`);
        this.done.set(key, [...(this.done.get(key) ?? []), m.data.n]);
      } finally {
        this.#total--;
        this.#inFlight.set(key, this.#inFlight.get(key)! - 1);
      }
    };
  }
}

const inOrder = Array.from({ length: PER_KEY }, (_, n) => n);

async function orderAcross(ctx: SuiteContext, sender: Transport, transports: readonly Transport[]): Promise<Observer> {
  const queue = uniqueName('q');
  const seen = new Observer();
  const consumers = transports.map((t) => ctx.consume<Ping>(t, { queue }, { Ping: seen.handler() }, consumerOptions({ concurrency: 8 })));
  await Promise.all(consumers.map((c) => c.ready));
  await sender.send(queue, keyed());
  await eventually(() => {
    for (const key of KEYS) expect(seen.done.get(key)?.length ?? 0).toBe(PER_KEY);
  }, ctx.scaled(20_000));
  for (const key of KEYS) expect(seen.done.get(key), `order of ${key}`).toEqual(inOrder);
  expect(seen.maxInFlightPerKey, 'one key never runs twice at once').toBe(1);
  return seen;
}

export function orderingTests(ctx: SuiteContext): void {
  describe('per-key order', () => {
    it(`${KEYS.length} keys × ${PER_KEY} messages, concurrency 8: each key in send order, one at a time; different keys overlap`, async () => {
      const { transport } = await ctx.create();
      const seen = await orderAcross(ctx, transport, [transport]);
      expect(seen.maxInFlight, 'different keys ran at once').toBeGreaterThan(1);
    });

    it('on a topic group: each key in publish order', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const seen = new Observer();
      const consumer = ctx.consume<Ping>(transport, { topic, group }, { Ping: seen.handler() }, consumerOptions({ concurrency: 8 }));
      await consumer.ready;
      await transport.publish(topic, keyed());
      await eventually(() => {
        for (const key of KEYS) expect(seen.done.get(key)?.length ?? 0).toBe(PER_KEY);
      }, ctx.scaled(20_000));
      for (const key of KEYS) expect(seen.done.get(key), `order of ${key}`).toEqual(inOrder);
      expect(seen.maxInFlightPerKey).toBe(1);
    });

    it('two consumers of one queue (peer when there is one): each key still in send order, never two of a key at once', async () => {
      const made = await ctx.create();
      const other = (await ctx.peer(made)) ?? made.transport;
      await orderAcross(ctx, made.transport, [made.transport, other]);
    });

    it("a retried message holds back its key's later messages (order kept) while other keys go on", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = new Observer();
      const retryDelayMs = 300;
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        { Ping: seen.handler((key, n) => key === 'k0' && n === 2) },
        consumerOptions({ concurrency: 8, failurePolicy: quickPolicy({ retryDelayMs, maxRetryDelayMs: retryDelayMs }) }),
      );
      await consumer.ready;
      await transport.send(queue, keyed());
      await eventually(() => {
        for (const key of KEYS) expect(seen.done.get(key)?.length ?? 0).toBe(PER_KEY);
      }, ctx.scaled(20_000));
      for (const key of KEYS) expect(seen.done.get(key), `order of ${key}`).toEqual(inOrder);
      // k0: 0, 1, 2 (fails), 2 again, 3…: nothing of k0 started between the failure and the retry.
      const k0 = seen.starts.filter((s) => s.startsWith('k0#'));
      expect(k0).toEqual(['k0#0', 'k0#1', 'k0#2', ...inOrder.slice(2).map((n) => `k0#${n}`)]);
      const failedAt = seen.starts.indexOf('k0#2');
      const retriedAt = seen.starts.lastIndexOf('k0#2');
      const between = seen.starts.slice(failedAt + 1, retriedAt);
      expect(between.length, 'other keys were handled while k0#2 waited for its retry').toBeGreaterThan(0);
      expect(between.every((s) => !s.startsWith('k0#'))).toBe(true);
    });
  });
}
