/** The event-store relay: the log published from a checkpoint, message id = event id, one active relay per name. */
import { startOutboxRelay, type RecordedEvent } from '@eventloom/core';
import { expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, receive, sleep, unique } from './helpers.js';

export function eventRelayTests<Tx>(ctx: SuiteContext<Tx>): void {
  it('publishes the chosen events with their envelope: id, subject = stream, correlation, causation, metadata', async () => {
    const f = await ctx.create();
    const category = unique('user').replaceAll('-', '');
    const topic = unique('t');
    const got = await receive(f.transport, { topic, group: unique('g') }, ['UserRegistered', 'EmailChanged']);
    const { events } = await f.store.appendToStream(`${category}-1`, [
      { type: 'UserRegistered', data: { email: 'ada@example.com' }, metadata: { userId: 'admin' }, correlationId: 'signup-1' },
      { type: 'EmailChanged', data: { email: 'ada@lovelace.dev' }, causationId: 'cmd-7' },
    ]);
    await f.store.appendToStream(`other${category}-1`, [{ type: 'UserRegistered', data: { email: 'not@mine' } }]);
    const relay = startOutboxRelay({
      store: f.store,
      transport: f.transport,
      name: unique('relay'),
      filter: { streamPrefixes: [`${category}-`] },
      route: () => ({ topic }),
      logger: false,
      pollIntervalMs: 50,
    });
    await eventually(() => expect(got.deliveries).toHaveLength(2));
    const [first, second] = got.deliveries;
    const [e1, e2] = events as RecordedEvent[];
    expect(first).toMatchObject({ id: e1!.id, type: 'UserRegistered', data: { email: 'ada@example.com' }, subject: `${category}-1`, correlationId: 'signup-1', partitionKey: `${category}-1` });
    expect(first!.metadata).toMatchObject({ userId: 'admin' });
    expect(second).toMatchObject({ id: e2!.id, causationId: 'cmd-7', correlationId: e2!.correlationId });
    await relay.waitFor(e2!.position);
    await sleep(100);
    expect(got.deliveries).toHaveLength(2);
    await relay.stop();
    await got.consumer.stop();
  });

  it('routes by event to queues or topics, and skips what the route returns null for', async () => {
    const f = await ctx.create();
    const stream = `${unique('acct').replaceAll('-', '')}-1`;
    const queue = unique('q');
    const topic = unique('t');
    const onQueue = await receive(f.transport, { queue }, ['SendWelcome']);
    const onTopic = await receive(f.transport, { topic, group: unique('g') }, ['Opened']);
    await f.store.appendToStream(stream, [
      { type: 'Opened', data: {} },
      { type: 'SendWelcome', data: {} },
      { type: 'Internal', data: {} },
    ]);
    const relay = startOutboxRelay({
      store: f.store,
      transport: f.transport,
      name: unique('relay'),
      filter: { streamPrefixes: [stream] },
      route: (event) => (event.type === 'Internal' ? null : event.type === 'SendWelcome' ? { queue } : { topic, partitionKey: 'p' }),
      logger: false,
      pollIntervalMs: 50,
    });
    await eventually(() => expect(onQueue.deliveries).toHaveLength(1));
    await eventually(() => expect(onTopic.deliveries).toHaveLength(1));
    expect(onTopic.deliveries[0]!.partitionKey).toBe('p');
    await relay.stop();
    await onQueue.consumer.stop();
    await onTopic.consumer.stop();
  });

  it('resumes after its checkpoint: a restarted relay publishes only what is new', async () => {
    const f = await ctx.create();
    const stream = `${unique('ord').replaceAll('-', '')}-1`;
    const queue = unique('q');
    const name = unique('relay');
    const got = await receive(f.transport, { queue });
    const options = { store: f.store, transport: f.transport, name, filter: { streamPrefixes: [stream] }, route: () => ({ queue }), logger: false as const, pollIntervalMs: 50 };
    const first = await f.store.appendToStream(stream, [1, 2, 3].map((n) => ({ type: 'Noted', data: { n } })));
    const relay = startOutboxRelay(options);
    await relay.waitFor(first.position);
    await relay.stop();
    const second = await f.store.appendToStream(stream, [4, 5].map((n) => ({ type: 'Noted', data: { n } })));
    const again = startOutboxRelay(options);
    await again.waitFor(second.position);
    await eventually(() => expect(got.deliveries).toHaveLength(5));
    await sleep(100);
    expect(got.deliveries.map((d) => (d.data as { n: number }).n)).toEqual([1, 2, 3, 4, 5]);
    expect(again.published).toBe(2);
    await again.stop();
    await got.consumer.stop();
  });

  it('publishes in batches, and again after a crash between the publish and the checkpoint (at least once, same ids)', async () => {
    const f = await ctx.create();
    const stream = `${unique('bulk').replaceAll('-', '')}-1`;
    const queue = unique('q');
    const got = await receive(f.transport, { queue });
    const appended = await f.store.appendToStream(stream, Array.from({ length: 25 }, (_, n) => ({ type: 'Noted', data: { n } })));
    const batches: number[] = [];
    let crashed = false;
    const relay = startOutboxRelay({
      store: f.store,
      transport: f.transport,
      name: unique('relay'),
      filter: { streamPrefixes: [stream] },
      route: () => ({ queue }),
      batchSize: 10,
      logger: false,
      pollIntervalMs: 50,
      afterPublish: (ids) => {
        batches.push(ids.length);
        if (!crashed && batches.length === 2) {
          crashed = true;
          throw new Error('killed before the checkpoint');
        }
      },
    });
    await relay.waitFor(appended.position, 15_000);
    await eventually(() => expect(got.deliveries.length).toBeGreaterThanOrEqual(35));
    expect(batches).toEqual([10, 10, 10, 5]);
    const ids = got.ids();
    expect(new Set(ids)).toEqual(new Set(appended.events.map((e) => e.id)));
    expect(ids.length).toBe(35);
    await relay.stop();
    await got.consumer.stop();
  });

  it('has one active relay per name: the other stands by, then takes over', async () => {
    const f = await ctx.create();
    const stream = `${unique('ha').replaceAll('-', '')}-1`;
    const queue = unique('q');
    const name = unique('relay');
    const got = await receive(f.transport, { queue });
    const options = { store: f.store, transport: f.transport, name, filter: { streamPrefixes: [stream] }, route: () => ({ queue }), logger: false as const, pollIntervalMs: 50, leaseMs: 2_000 };
    const one = startOutboxRelay(options);
    await eventually(() => expect(one.status).toBe('running'));
    const two = startOutboxRelay(options);
    await eventually(() => expect(two.status).toBe('standby'));
    const a = await f.store.appendToStream(stream, [{ type: 'Noted', data: { n: 1 } }]);
    await one.waitFor(a.position);
    await one.stop();
    const b = await f.store.appendToStream(stream, [{ type: 'Noted', data: { n: 2 } }]);
    await two.waitFor(b.position, 15_000);
    await eventually(() => expect(got.deliveries.map((d) => (d.data as { n: number }).n)).toEqual([1, 2]));
    expect(two.published).toBe(1);
    await two.stop();
    await got.consumer.stop();
  });
}
