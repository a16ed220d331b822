/** The queue's dead letters: parked with their reason, listed by filter, redriven with attempts reset, purged. */
import { randomUUID } from 'node:crypto';
import { DeliveryLostError, type MessageEnvelope } from '@eventloom/core';
import type { DeadLetterDraft, ReceivedMessage, Receiver } from '@eventloom/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresTransportDriver } from '../../src/messaging/index.js';
import { ns, postgresUrl, prepared, receiveWithin, receiverOptions, testDrivers, type TestDrivers } from './support.js';

const name = (prefix: string) => `${prefix}-${randomUUID()}`;

function draft(message: ReceivedMessage, source: DeadLetterDraft['source'], reason: DeadLetterDraft['reason'], consumer: string): DeadLetterDraft {
  return {
    message: (message as { envelope: MessageEnvelope }).envelope,
    raw: null,
    source,
    consumer,
    reason,
    error: `Error: ${reason}`,
    stack: 'Error: at handler',
    attempts: message.deliveryCount,
    firstFailedAt: '2026-01-01T00:00:00.000Z',
    lastFailedAt: '2026-01-01T00:00:01.250Z',
  };
}

describe.skipIf(!postgresUrl)('PostgreSQL queue dead letters', () => {
  let drivers: TestDrivers;
  let driver: PostgresTransportDriver;

  beforeAll(async () => {
    drivers = testDrivers();
    driver = await drivers.open();
  });
  afterAll(async () => {
    await drivers?.cleanup();
  });

  async function parkAll(receiver: Receiver, count: number, source: DeadLetterDraft['source'], consumer: string, reason: DeadLetterDraft['reason']) {
    const got = await receiveWithin(receiver, count, 2_000);
    expect(got).toHaveLength(count);
    const parked = [];
    for (const m of got) parked.push(await receiver.deadLetter(m, draft(m, source, reason, consumer)));
    return parked;
  }

  it('keeps the envelope, error, attempts and times, and lists and gets them by filter', async () => {
    const queue = name('q');
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(3));
    const r = await driver.openReceiver({ queue }, receiverOptions(queue));
    const parked = await parkAll(r, 3, { queue }, queue, 'max-attempts');
    const listed = await driver.deadLetters.list({ source: { queue } });
    expect(listed.map((d) => (d.message!.data as { n: number }).n)).toEqual([0, 1, 2]);
    const first = listed[0]!;
    expect(first).toMatchObject({
      source: { queue },
      consumer: queue,
      reason: 'max-attempts',
      error: 'Error: max-attempts',
      stack: 'Error: at handler',
      attempts: 1,
      firstFailedAt: '2026-01-01T00:00:00.000Z',
      lastFailedAt: '2026-01-01T00:00:01.250Z',
      raw: null,
    });
    expect(await driver.deadLetters.get(first.id)).toEqual(first);
    expect(parked.map((d) => d.id).sort()).toEqual(listed.map((d) => d.id).sort());
    expect(await driver.deadLetters.get(randomUUID())).toBeNull();
    expect(await driver.deadLetters.get('not-an-id')).toBeNull();
    expect(await driver.deadLetters.list({ source: { queue }, limit: 2 })).toHaveLength(2);
    expect(await driver.deadLetters.list({ source: { queue }, reason: 'rejected' })).toEqual([]);
    expect(await driver.deadLetters.list({ consumer: queue, type: 'Ping', ids: [first.id] })).toEqual([first]);
    expect(await driver.deadLetters.list({ source: { queue }, before: '2000-01-01T00:00:00.000Z' })).toEqual([]);
    // Gone from the queue: nothing left to receive.
    expect(await receiveWithin(r, 10, 200)).toEqual([]);
  });

  it('redrives to the consumed source with attempts reset, one, by filter or all, and purges', async () => {
    const topic = name('t');
    await driver.declare([{ topic, group: 'mailer' }, { topic, group: 'crm' }]);
    await driver.enqueue({ kind: 'topic', name: topic }, prepared(3, { partitionKey: 'k' }));
    const mailer = await driver.openReceiver({ topic, group: 'mailer' }, receiverOptions('mailer'));
    const crm = await driver.openReceiver({ topic, group: 'crm' }, receiverOptions('crm'));
    // One at a time: the key's next message comes once the head is parked.
    for (let i = 0; i < 3; i++) await parkAll(mailer, 1, { topic, group: 'mailer' }, 'mailer', 'rejected');
    expect(ns(await receiveWithin(crm, 10, 2_000))).toEqual([0]);

    const parked = await driver.deadLetters.list({ source: { topic, group: 'mailer' } });
    expect(parked).toHaveLength(3);
    expect(await driver.deadLetters.redrive({ ids: [parked[0]!.id] })).toBe(1);
    const back = await receiveWithin(mailer, 10, 2_000);
    expect(ns(back)).toEqual([0]);
    expect(back[0]!.deliveryCount).toBe(1);
    expect((back[0] as { envelope: MessageEnvelope }).envelope).toEqual(parked[0]!.message);
    await mailer.ack(back);

    expect(await driver.deadLetters.redrive({ consumer: 'mailer', reason: 'rejected' })).toBe(2);
    expect(await driver.deadLetters.list({ source: { topic, group: 'mailer' } })).toEqual([]);
    // Per-key order holds for redriven messages too.
    const first = await receiveWithin(mailer, 10, 2_000);
    expect(ns(first)).toEqual([1]);
    await mailer.ack(first);
    expect(ns(await receiveWithin(mailer, 10, 2_000))).toEqual([2]);
    // The other group's copies were never touched.
    expect(await receiveWithin(crm, 10, 200)).toEqual([]);

    const queue = name('q');
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(2));
    const r = await driver.openReceiver({ queue }, receiverOptions(queue));
    await parkAll(r, 2, { queue }, queue, 'unknown-type');
    expect(await driver.deadLetters.list({ source: { queue } })).toHaveLength(2);
    expect(await driver.deadLetters.purge({ source: { queue }, limit: 1 })).toBe(1);
    expect(await driver.deadLetters.purge({ source: { queue } })).toBe(1);
    expect(await driver.deadLetters.list({ source: { queue } })).toEqual([]);
  });

  it('refuses a dead-letter write from a delivery whose lease ran out and was claimed again, parking the message once', async () => {
    const queue = name('q');
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(1, { partitionKey: 'k' }));
    const late = await driver.openReceiver({ queue }, receiverOptions(queue, 200));
    const holder = await driver.openReceiver({ queue }, receiverOptions(queue, 30_000));
    const [lost] = await receiveWithin(late, 1, 2_000);
    expect(lost).toBeDefined();
    const [taken] = await receiveWithin(holder, 1, 3_000);
    expect(taken?.deliveryCount).toBe(2);
    // The first holder's late verdict: a typed error, no record, nothing parked, the message still the new holder's.
    const refused = late.deadLetter(lost!, draft(lost!, { queue }, 'max-attempts', queue));
    await expect(refused).rejects.toBeInstanceOf(DeliveryLostError);
    await expect(refused).rejects.toMatchObject({ code: 'DELIVERY_LOST', messageId: (lost as { envelope: MessageEnvelope }).envelope.id });
    expect(await driver.deadLetters.list({ source: { queue } })).toEqual([]);
    // The new holder can still park it, once, and that record is the stored one.
    const parked = await holder.deadLetter(taken!, draft(taken!, { queue }, 'max-attempts', queue));
    expect(await driver.deadLetters.list({ source: { queue } })).toEqual([parked]);
    expect(await driver.deadLetters.get(parked.id)).toEqual(parked);
    expect(await receiveWithin(holder, 1, 300)).toEqual([]);
  });

  it('refuses a malformed filter with a typed error', async () => {
    await expect(driver.deadLetters.list({ reason: 'nope' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(driver.deadLetters.purge({ limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(driver.deadLetters.redrive({ before: 'yesterday' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
