/**
 * Bad input on the sending side: a typed `EventloomError` naming what is wrong, and nothing
 * enqueued — a batch with one bad message sends none of them.
 */
import { randomUUID } from 'node:crypto';
import { MAX_EVENT_BYTES, type OutgoingMessage, type SendOptions, type Transport } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, expectEventloomError, sleep, type Ping, uniqueName } from './fixtures.js';

const badNames: readonly [string, unknown][] = [
  ['empty', ''],
  ['a space', 'has space'],
  ['a slash', 'a/b'],
  ['a wildcard', 'orders.*'],
  ['a NATS tail wildcard', 'orders.>'],
  ['a NUL', 'q\u0000x'],
  ['300 characters', 'x'.repeat(300)],
  ['not a string', 42],
];

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value;
}

function badMessages(maxBytes: number): readonly [string, unknown, SendOptions?][] {
  const ok = { type: 'Ping', data: { n: 1 } };
  return [
    ['null instead of a message', null],
    ['an empty type', { type: '', data: {} }],
    ['a type that is not a string', { type: 7, data: {} }],
    ['a BigInt in data', { ...ok, data: { n: 1n } }],
    ['a function in data', { ...ok, data: { f: () => 1 } }],
    ['a cycle in data', { ...ok, data: circular() }],
    ['a symbol in data', { ...ok, data: { s: Symbol('s') } }],
    ['NaN in data', { ...ok, data: { n: Number.NaN } }],
    ['metadata that is not JSON', { ...ok, metadata: { at: 1n } }],
    ['an id that is not a UUID', { ...ok, id: 'not-a-uuid' }],
    ['a correlation id that is not a string', { ...ok, correlationId: 12 }],
    ['a partition key that is not a string', { ...ok, partitionKey: { k: 1 } }],
    ['both delayMs and deliverAt', { ...ok, delayMs: 10, deliverAt: new Date(Date.now() + 10) }],
    ['a negative delayMs', { ...ok, delayMs: -1 }],
    ['a delayMs that is not a number', { ...ok, delayMs: '10' }],
    ['a deliverAt that is not a date', { ...ok, deliverAt: 'tomorrow' }],
    ['an invalid Date', { ...ok, deliverAt: new Date(Number.NaN) }],
    ['both delayMs and deliverAt in the send options', ok, { delayMs: 10, deliverAt: new Date() }],
    ['a schemaVersion of 0', { ...ok, schemaVersion: 0 }],
    [`data over ${maxBytes} bytes`, { ...ok, data: { big: 'x'.repeat(maxBytes + 1) } }],
  ];
}

/** Sends `marker` and checks that it is the only thing the queue ever delivers. */
async function onlyMarkerArrives(ctx: SuiteContext, transport: Transport, queue: string): Promise<void> {
  const got: number[] = [];
  const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void got.push(m.data.n) }, consumerOptions());
  await consumer.ready;
  await transport.send(queue, { type: 'Ping', data: { n: -1 } });
  await eventually(() => expect(got).toContain(-1), ctx.scaled(10_000));
  await sleep(ctx.scaled(200));
  expect(got, 'nothing of the refused sends was enqueued').toEqual([-1]);
}

export function badInputTests(ctx: SuiteContext): void {
  describe('bad input', () => {
    for (const [label, name] of badNames) {
      it(`a queue or topic name with ${label}: a typed error from send, publish, declare and consume`, async () => {
        const { transport } = await ctx.create();
        const message = { type: 'Ping' as const, data: { n: 1 } };
        await expectEventloomError(() => transport.send(name as string, message));
        await expectEventloomError(() => transport.publish(name as string, message));
        await expectEventloomError(() => transport.declare([{ queue: name as string }]));
        await expectEventloomError(() => transport.declare([{ topic: uniqueName('t'), group: name as string }]));
        await expectEventloomError(async () => {
          const consumer = transport.consume<Ping>({ queue: name as string }, { Ping: () => undefined }, consumerOptions());
          try {
            await consumer.ready;
          } finally {
            await consumer.stop().catch(() => undefined);
          }
        });
      });
    }

    it('each bad message, alone or in a batch with good ones: a typed error naming the problem, nothing enqueued', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const topic = uniqueName('t');
      const group = uniqueName('g');
      await transport.declare([{ queue }, { topic, group }]);
      const good: OutgoingMessage<Ping> = { type: 'Ping', data: { n: 1 } };
      for (const [label, bad, options] of badMessages(ctx.options.maxMessageBytes ?? MAX_EVENT_BYTES)) {
        const alone = await expectEventloomError(() => transport.send(queue, bad as OutgoingMessage, options));
        expect(alone.message.length, label).toBeGreaterThan(10);
        await expectEventloomError(() => transport.send(queue, [good, bad as OutgoingMessage, good], options));
        await expectEventloomError(() => transport.publish(topic, [good, bad as OutgoingMessage], options));
      }
      await onlyMarkerArrives(ctx, transport, queue);
      const fromTopic: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { topic, group }, { Ping: (m) => void fromTopic.push(m.data.n) }, consumerOptions());
      await consumer.ready;
      await transport.publish(topic, { type: 'Ping', data: { n: -1 } });
      await eventually(() => expect(fromTopic).toContain(-1), ctx.scaled(10_000));
      await sleep(ctx.scaled(200));
      expect(fromTopic).toEqual([-1]);
    });

    it('two messages with one id in a batch, or messages that are not an array of objects: a typed error, nothing enqueued', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      await transport.declare([{ queue }]);
      const id = randomUUID();
      await expectEventloomError(() =>
        transport.send(queue, [
          { type: 'Ping', data: { n: 1 }, id },
          { type: 'Ping', data: { n: 2 }, id },
        ]),
      );
      await expectEventloomError(() => transport.send(queue, 'Ping' as unknown as OutgoingMessage));
      await expectEventloomError(() => transport.send(queue, [undefined] as unknown as OutgoingMessage[]));
      await onlyMarkerArrives(ctx, transport, queue);
    });

    it('bad consumer options: a typed error (concurrency 0, prefetch below 1, a negative visibility timeout, maxAttempts 0)', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      for (const options of [
        { concurrency: 0 },
        { prefetch: 0 },
        { concurrency: 1.5 },
        { visibilityTimeoutMs: -1 },
        { failurePolicy: { maxAttempts: 0 } },
        { failurePolicy: { jitter: 2 } },
      ]) {
        await expectEventloomError(async () => {
          const consumer = transport.consume<Ping>({ queue }, { Ping: () => undefined }, { ...options, logger: false });
          try {
            await consumer.ready;
          } finally {
            await consumer.stop().catch(() => undefined);
          }
        });
      }
    });
  });
}
