/** The state-based outbox: written in the user's transaction, relayed in order after commit, one relay per name. */
import { randomUUID } from 'node:crypto';
import { EventloomError, type OutboxMessage, type RelayEvent } from '@eventloom/core';
import { expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, notes, queued, receive, sleep, unique } from './helpers.js';

export function outboxTests<Tx>(ctx: SuiteContext<Tx>): void {
  it('relays what a committed transaction added, envelope kept, and then holds nothing', async () => {
    const f = await ctx.create();
    const outbox = await f.outbox(unique('ob'));
    const topic = unique('t');
    const got = await receive(f.transport, { topic, group: unique('g') });
    const id = randomUUID();
    const causation = randomUUID();
    const key = unique('effect');
    await f.transaction(async (tx) => {
      await f.write(tx, key);
      await outbox.add(tx, {
        topic,
        id,
        type: 'Noted',
        data: { n: 7 },
        metadata: { userId: 'u-1' },
        correlationId: 'conv-1',
        causationId: causation,
        subject: 'user-1',
        partitionKey: 'user-1',
      });
    });
    expect(await outbox.pending()).toBe(1);
    const relay = outbox.startRelay(f.transport, { logger: false, pollIntervalMs: 50 });
    await eventually(() => expect(got.ids()).toEqual([id]));
    const [message] = got.deliveries;
    expect(message).toMatchObject({ id, type: 'Noted', data: { n: 7 }, correlationId: 'conv-1', causationId: causation, subject: 'user-1', partitionKey: 'user-1' });
    expect(message!.metadata).toMatchObject({ userId: 'u-1' });
    await relay.waitForEmpty(15_000);
    expect(await outbox.pending()).toBe(0);
    expect(relay.relayed).toBe(1);
    expect(await f.count(key)).toBe(1);
    await relay.stop();
    await got.consumer.stop();
  });

  it('relays nothing a rolled-back transaction added', async () => {
    const f = await ctx.create();
    const outbox = await f.outbox(unique('ob'));
    const queue = unique('q');
    await expect(
      f.transaction(async (tx) => {
        await outbox.add(tx, { queue, type: 'Noted', data: { n: 1 } });
        throw new Error('the business write failed');
      }),
    ).rejects.toThrow('the business write failed');
    expect(await outbox.pending()).toBe(0);
    await f.transaction((tx) => outbox.add(tx, { queue, type: 'Noted', data: { n: 2 } }));
    const got = await receive(f.transport, { queue });
    const relay = outbox.startRelay(f.transport, { logger: false, pollIntervalMs: 50 });
    await relay.waitForEmpty(15_000);
    await eventually(() => expect(got.deliveries.map((d) => d.data)).toEqual([{ n: 2 }]));
    await sleep(100);
    expect(got.deliveries).toHaveLength(1);
    await relay.stop();
    await got.consumer.stop();
  });

  it('relays in the order messages were added, across transactions and destinations', async () => {
    const f = await ctx.create();
    const outbox = await f.outbox(unique('ob'));
    const topic = unique('t');
    const queue = unique('q');
    const onTopic = await receive(f.transport, { topic, group: unique('g') });
    const onQueue = await receive(f.transport, { queue });
    for (let t = 0; t < 5; t++) {
      await f.transaction(async (tx) => {
        const batch: OutboxMessage[] = notes(10, t * 10, { partitionKey: 'k' }).map((m, i) => (i % 3 === 0 ? { ...m, queue } : { ...m, topic }));
        await outbox.add(tx, batch);
      });
    }
    const relay = outbox.startRelay(f.transport, { logger: false, batchSize: 7, pollIntervalMs: 50 });
    await relay.waitForEmpty(15_000);
    const expected = Array.from({ length: 50 }, (_, n) => n);
    await eventually(() => expect([...onTopic.deliveries, ...onQueue.deliveries]).toHaveLength(50));
    const ns = (list: typeof onTopic.deliveries): number[] => list.map((d) => (d.data as { n: number }).n);
    expect(ns(onTopic.deliveries)).toEqual(expected.filter((n) => n % 10 % 3 !== 0));
    expect(ns(onQueue.deliveries)).toEqual(expected.filter((n) => n % 10 % 3 === 0));
    await relay.stop();
    await onTopic.consumer.stop();
    await onQueue.consumer.stop();
  });

  it('has one active relay per outbox: the other stands by and takes over when it stops', async () => {
    const f = await ctx.create();
    const name = unique('ob');
    const outbox = await f.outbox(name);
    const queue = unique('q');
    const got = await receive(f.transport, { queue });
    const events: RelayEvent[] = [];
    const first = outbox.startRelay(f.transport, { logger: false, leaseMs: 2_000, pollIntervalMs: 50 });
    await eventually(() => expect(first.status).toBe('running'));
    const second = (await f.outbox(name)).startRelay(f.transport, { logger: false, leaseMs: 2_000, pollIntervalMs: 50, onEvent: (e) => events.push(e) });
    await eventually(() => expect(second.status).toBe('standby'));
    await f.transaction((tx) => outbox.add(tx, queued(queue, 3, 0)));
    await eventually(() => expect(got.deliveries).toHaveLength(3));
    expect(first.relayed).toBe(3);
    expect(second.relayed).toBe(0);
    await first.stop();
    await f.transaction((tx) => outbox.add(tx, queued(queue, 2, 3)));
    await eventually(() => expect(got.deliveries).toHaveLength(5));
    // Counted once its rows are deleted, just after the transport confirmed them.
    await eventually(() => expect(second.relayed).toBe(2));
    expect(events.map((e) => e.type)).toContain('leading');
    expect(got.deliveries.map((d) => (d.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    await second.stop();
    await got.consumer.stop();
  });

  it('sends a batch again, same ids, when the relay dies between the publish and the delete', async () => {
    const f = await ctx.create();
    const outbox = await f.outbox(unique('ob'));
    const queue = unique('q');
    const got = await receive(f.transport, { queue });
    await f.transaction((tx) => outbox.add(tx, queued(queue, 4, 0)));
    let crashes = 0;
    const relay = outbox.startRelay(f.transport, {
      logger: false,
      pollIntervalMs: 50,
      afterPublish: () => {
        if (crashes++ === 0) throw new Error('killed after the publish');
      },
    });
    await relay.waitForEmpty(15_000);
    await eventually(() => expect(got.deliveries).toHaveLength(8));
    const ids = got.ids();
    expect(new Set(ids).size).toBe(4);
    expect(ids.slice(0, 4)).toEqual(ids.slice(4));
    await relay.stop();
    await got.consumer.stop();
  });

  it('refuses bad messages with typed errors before writing anything', async () => {
    const f = await ctx.create();
    const outbox = await f.outbox(unique('ob'));
    const bad: [string, unknown][] = [
      ['no destination', { type: 'Noted', data: {} }],
      ['two destinations', { topic: 't', queue: 'q', type: 'Noted', data: {} }],
      ['empty type', { topic: 't', type: '', data: {} }],
      ['id not a UUID', { topic: 't', id: 'nope', type: 'Noted', data: {} }],
      ['data not JSON', { topic: 't', type: 'Noted', data: { n: 1n } }],
      ['deliverAt and delayMs', { topic: 't', type: 'Noted', data: {}, delayMs: 5, deliverAt: new Date() }],
    ];
    for (const [what, message] of bad) {
      const error = await f
        .transaction((tx) => outbox.add(tx, [{ topic: 't', type: 'Noted', data: { ok: true } }, message as OutboxMessage]))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, what).toBeInstanceOf(EventloomError);
      expect(['INVALID_ARGUMENT', 'INVALID_EVENT'], what).toContain((error as EventloomError).code);
    }
    expect(await outbox.pending()).toBe(0);
  });
}
