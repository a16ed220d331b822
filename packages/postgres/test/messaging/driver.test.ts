/** The PostgreSQL queue driver on a real server: storage and delivery, below core's consumer engine. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresTransportDriver } from '../../src/messaging/index.js';
import { adminClient, ns, postgresUrl, prepared, receiveWithin, receiverOptions, testDrivers, type TestDrivers } from './support.js';

const name = (prefix: string) => `${prefix}-${randomUUID()}`;

describe.skipIf(!postgresUrl)('PostgreSQL queue driver', () => {
  let drivers: TestDrivers;
  let driver: PostgresTransportDriver;

  beforeAll(async () => {
    drivers = testDrivers();
    driver = await drivers.open();
  });
  afterAll(async () => {
    await drivers?.cleanup();
  });

  it('stores a send, hands it to one receiver, and removes it on ack', async () => {
    const queue = name('q');
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(3));
    const a = await driver.openReceiver({ queue }, receiverOptions(queue));
    const b = await driver.openReceiver({ queue }, receiverOptions(queue));
    const got = await receiveWithin(a, 10, 2_000);
    expect(ns(got)).toEqual([0, 1, 2]);
    expect(got.map((m) => m.deliveryCount)).toEqual([1, 1, 1]);
    expect(await receiveWithin(b, 10, 200)).toEqual([]);
    await a.ack(got);
    const admin = await adminClient();
    try {
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${drivers.schema}.queue_messages WHERE destination = $1`, [`q:${queue}`]);
      expect(rows[0].n).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('fans a publish out to every declared group, and stores nothing for a topic without groups', async () => {
    const topic = name('t');
    await driver.declare([{ topic, group: 'g1' }, { topic, group: 'g2' }]);
    await driver.enqueue({ kind: 'topic', name: topic }, prepared(2));
    await driver.enqueue({ kind: 'topic', name: name('t') }, prepared(2));
    const g1 = await driver.openReceiver({ topic, group: 'g1' }, receiverOptions('g1'));
    const g2 = await driver.openReceiver({ topic, group: 'g2' }, receiverOptions('g2'));
    expect(ns(await receiveWithin(g1, 10, 2_000))).toEqual([0, 1]);
    expect(ns(await receiveWithin(g2, 10, 2_000))).toEqual([0, 1]);
  });

  it('hands out only the head of each partition key, until it is acked or dead-lettered', async () => {
    const queue = name('q');
    const dest = { kind: 'queue', name: queue } as const;
    await driver.enqueue(dest, [...prepared(3, { partitionKey: 'a' }, null, 0), ...prepared(1, { partitionKey: 'b' }, null, 10)]);
    await driver.enqueue(dest, prepared(1, {}, null, 20));
    const r = await driver.openReceiver({ queue }, receiverOptions(queue));
    const first = await receiveWithin(r, 10, 2_000);
    expect(ns(first)).toEqual([0, 10, 20]);
    expect(await receiveWithin(r, 10, 200)).toEqual([]);
    // A retry keeps the key's place: the next of 'a' stays back while it waits.
    expect(await r.retry(first[0]!, 300, 'Error: boom')).toBe('redelivered');
    await r.ack(first.slice(1));
    expect(await receiveWithin(r, 10, 150)).toEqual([]);
    const again = await receiveWithin(r, 10, 3_000);
    expect(ns(again)).toEqual([0]);
    expect(again[0]!.deliveryCount).toBe(2);
    expect(again[0]!.firstFailedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    await r.ack(again);
    const second = await receiveWithin(r, 10, 2_000);
    expect(ns(second)).toEqual([1]);
    await r.deadLetter(second[0]!, {
      message: (second[0] as unknown as { envelope: never }).envelope,
      raw: null,
      source: { queue },
      consumer: queue,
      reason: 'rejected',
      error: 'Error: no',
      stack: null,
      attempts: 1,
      firstFailedAt: new Date().toISOString(),
      lastFailedAt: new Date().toISOString(),
    });
    expect(ns(await receiveWithin(r, 10, 2_000))).toEqual([2]);
  });

  it('gives an expired lease to another receiver, and ignores the first holder\'s late ack', async () => {
    const queue = name('q');
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(1));
    const a = await driver.openReceiver({ queue }, receiverOptions(queue, 200));
    const b = await driver.openReceiver({ queue }, receiverOptions(queue, 30_000));
    const held = await receiveWithin(a, 1, 2_000);
    expect(held).toHaveLength(1);
    const taken = await receiveWithin(b, 1, 3_000);
    expect(taken.map((m) => m.deliveryCount)).toEqual([2]);
    await a.ack(held);
    await b.release(taken);
    const back = await receiveWithin(b, 1, 2_000);
    expect(back.map((m) => m.deliveryCount)).toEqual([2]);
  });

  it('delivers a delayed message when it is due, and cancels one not yet delivered', async () => {
    const queue = name('q');
    const dest = { kind: 'queue', name: queue } as const;
    const [later] = prepared(1, {}, new Date(Date.now() + 400));
    const [cancelled] = prepared(1, {}, new Date(Date.now() + 60_000), 1);
    await driver.enqueue(dest, [later!, cancelled!]);
    const r = await driver.openReceiver({ queue }, receiverOptions(queue));
    const started = Date.now();
    const got = await receiveWithin(r, 10, 5_000);
    expect(ns(got)).toEqual([0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await driver.cancelScheduled({ queue }, cancelled!.envelope.id)).toBe(true);
    expect(await driver.cancelScheduled({ queue }, cancelled!.envelope.id)).toBe(false);
    expect(await driver.cancelScheduled({ queue }, later!.envelope.id)).toBe(false);
  });
});
