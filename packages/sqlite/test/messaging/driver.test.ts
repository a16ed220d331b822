/**
 * The SQLite transport's driver on its own (storage and delivery), on real files: claims,
 * per-key order, leases, retries, delays, dead letters, wake-ups across connections, group
 * commit. The engine's behaviour on top is the conformance suite's.
 */
import { DeliveryLostError, TransportClosedError, type ConsumeSource, type Destination } from '@eventloom/core';
import type { ReceivedMessage, Receiver } from '@eventloom/core/adapter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../src/index.js';
import { SqliteTransportDriver } from '../../src/messaging/sqlite-transport-driver.js';
import { tempFile, type TempFile } from '../temp-file.js';
import { prepared } from './support.js';

const queue = (name: string): Destination => ({ kind: 'queue', name });
const never = new AbortController().signal;
const dataOf = (messages: readonly ReceivedMessage[]): unknown[] => messages.map((m) => (m.kind === 'envelope' ? m.envelope.data : null));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Receives with a deadline: [] when nothing came within `ms`. */
function receiveWithin(receiver: Receiver, max: number, ms: number): Promise<readonly ReceivedMessage[]> {
  return receiver.receive(max, AbortSignal.timeout(ms));
}

describe('SqliteTransportDriver', () => {
  let file: TempFile;
  let driver: SqliteTransportDriver;
  const others: SqliteTransportDriver[] = [];
  const options = { consumer: 'q', visibilityTimeoutMs: 5_000, prefetch: 100 };

  beforeEach(() => {
    file = tempFile();
    driver = new SqliteTransportDriver({ filename: file.filename });
  });
  afterEach(async () => {
    await driver.close();
    for (const other of others.splice(0)) await other.close();
    file.remove();
  });

  function peer(): SqliteTransportDriver {
    const other = new SqliteTransportDriver({ filename: file.filename });
    others.push(other);
    return other;
  }

  it('stores a send, hands it to one receiver, and removes it on ack', async () => {
    await driver.enqueue(queue('orders'), [prepared(1), prepared(2)]);
    const receiver = await driver.openReceiver({ queue: 'orders' }, options);
    const got = await receiver.receive(10, never);
    expect(dataOf(got)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(got.map((m) => m.deliveryCount)).toEqual([1, 1]);
    expect(await receiveWithin(receiver, 10, 50)).toEqual([]);
    await receiver.ack(got);
    expect(driver.database.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(0);
  });

  it('keeps the envelope as sent, with data and metadata JSON reused from the checks', async () => {
    const message = prepared(7, { metadata: { tenant: 't1' }, subject: 'order-7', partitionKey: 'k' });
    await driver.enqueue(queue('orders'), [{ ...message, dataJson: '{"n":7}', metadataJson: '{"tenant":"t1"}' }]);
    const [got] = await (await driver.openReceiver({ queue: 'orders' }, options)).receive(1, never);
    expect(got).toMatchObject({ kind: 'envelope', envelope: message.envelope, partitionKey: 'k' });
  });

  it('fans a topic out to every group that exists, and a group gets only what is published after it exists', async () => {
    await driver.declare([{ topic: 'users', group: 'mail' }]);
    await driver.enqueue({ kind: 'topic', name: 'users' }, [prepared(1)]);
    const crm = await driver.openReceiver({ topic: 'users', group: 'crm' }, options);
    await driver.enqueue({ kind: 'topic', name: 'users' }, [prepared(2)]);
    const mail = await driver.openReceiver({ topic: 'users', group: 'mail' }, options);
    expect(dataOf(await mail.receive(10, never))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(dataOf(await crm.receive(10, never))).toEqual([{ n: 2 }]);
    // A topic with no group stores nothing.
    await driver.enqueue({ kind: 'topic', name: 'nobody' }, [prepared(3)]);
    expect(driver.database.prepare("SELECT count(*) FROM queue_messages WHERE destination = 'nobody'").pluck().get()).toBe(0);
  });

  it('lets competing receivers (two connections) claim disjoint messages', async () => {
    await driver.enqueue(queue('work'), Array.from({ length: 50 }, (_, i) => prepared(i)));
    const a = await driver.openReceiver({ queue: 'work' }, { ...options, prefetch: 20 });
    const b = await peer().openReceiver({ queue: 'work' }, { ...options, prefetch: 20 });
    const [first, second] = await Promise.all([a.receive(20, never), b.receive(20, never)]);
    const third = await a.receive(20, never);
    const seen = [...first, ...second, ...third].map((m) => (m.kind === 'envelope' ? m.envelope.data : null));
    expect(seen).toHaveLength(50);
    expect(new Set(seen.map((d) => (d as { n: number }).n)).size).toBe(50);
  });

  it('hands out only the head of each partition key until it is acked', async () => {
    await driver.enqueue(queue('keys'), [
      prepared(1, { partitionKey: 'a' }),
      prepared(2, { partitionKey: 'a' }),
      prepared(3, { partitionKey: 'b' }),
      prepared(4),
      prepared(5, { partitionKey: 'b' }),
    ]);
    const receiver = await driver.openReceiver({ queue: 'keys' }, options);
    const other = await peer().openReceiver({ queue: 'keys' }, options);
    const first = await receiver.receive(10, never);
    expect(dataOf(first)).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
    expect(await receiveWithin(other, 10, 50)).toEqual([]);
    await receiver.ack(first.slice(0, 1));
    expect(dataOf(await other.receive(10, never))).toEqual([{ n: 2 }]);
  });

  it('holds a key back while its head waits for a retry, and redelivers the head after the delay with the attempt counted', async () => {
    await driver.enqueue(queue('retry'), [prepared(1, { partitionKey: 'a' }), prepared(2, { partitionKey: 'a' })]);
    const receiver = await driver.openReceiver({ queue: 'retry' }, options);
    const [head] = await receiver.receive(10, never);
    expect(await receiver.retry(head!, 150, 'Error: boom')).toBe('redelivered');
    const started = Date.now();
    expect(await receiveWithin(receiver, 10, 60)).toEqual([]);
    const again = await receiver.receive(10, never);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(dataOf(again)).toEqual([{ n: 1 }]);
    expect(again[0]!.deliveryCount).toBe(2);
    expect(again[0]!.firstFailedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('does not let a delayed message hold its key back, but holds it while a later one of its key is being handled', async () => {
    const timer = prepared(1, { partitionKey: 'saga-1' }, new Date(Date.now() + 150));
    await driver.enqueue(queue('saga'), [timer, prepared(2, { partitionKey: 'saga-1' })]);
    const receiver = await driver.openReceiver({ queue: 'saga' }, options);
    const later = await receiver.receive(10, never);
    expect(dataOf(later)).toEqual([{ n: 2 }]);
    await sleep(200);
    // The timer is due now, but n: 2 of its key is still being handled.
    expect(await receiveWithin(receiver, 10, 50)).toEqual([]);
    await receiver.ack(later);
    expect(dataOf(await receiver.receive(10, never))).toEqual([{ n: 1 }]);
  });

  it('gives a message back when its lease runs out (a crashed receiver), counting the delivery', async () => {
    await driver.enqueue(queue('lease'), [prepared(1)]);
    const crashed = peer();
    const first = await (await crashed.openReceiver({ queue: 'lease' }, { ...options, visibilityTimeoutMs: 200 })).receive(1, never);
    expect(first).toHaveLength(1);
    await crashed.abandon();
    const receiver = await driver.openReceiver({ queue: 'lease' }, options);
    const started = Date.now();
    const again = await receiver.receive(1, never);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(again[0]!.deliveryCount).toBe(2);
    // The stale token changes nothing.
    await receiver.ack(first);
    expect(driver.database.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(1);
  });

  it('extends a lease, and releases without counting the delivery', async () => {
    await driver.enqueue(queue('ext'), [prepared(1)]);
    const receiver = await driver.openReceiver({ queue: 'ext' }, { ...options, visibilityTimeoutMs: 150 });
    const got = await receiver.receive(1, never);
    await receiver.extend(got, 5_000);
    await sleep(250);
    expect(await receiveWithin(receiver, 1, 50)).toEqual([]);
    await receiver.release(got);
    const again = await receiver.receive(1, never);
    expect(again[0]!.deliveryCount).toBe(1);
  });

  it('wakes a receiver waiting on another connection within milliseconds of a send', async () => {
    const receiver = await peer().openReceiver({ queue: 'wake' }, options);
    const waiting = receiver.receive(1, never);
    await sleep(100);
    const sent = Date.now();
    await driver.enqueue(queue('wake'), [prepared(1)]);
    const got = await waiting;
    expect(got).toHaveLength(1);
    expect(Date.now() - sent).toBeLessThan(500);
  });

  it('delivers a delayed message at its time, and withdraws one by id', async () => {
    const at = new Date(Date.now() + 200);
    const later = prepared(1, {}, at);
    const cancelled = prepared(2, {}, at);
    await driver.enqueue(queue('delay'), [later, cancelled]);
    expect(await driver.cancelScheduled({ queue: 'delay' }, cancelled.envelope.id)).toBe(true);
    expect(await driver.cancelScheduled({ queue: 'delay' }, cancelled.envelope.id)).toBe(false);
    const receiver = await driver.openReceiver({ queue: 'delay' }, options);
    const got = await receiver.receive(10, never);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
    expect(dataOf(got)).toEqual([{ n: 1 }]);
    expect(await driver.cancelScheduled({ queue: 'delay' }, later.envelope.id)).toBe(false);
  });

  it('dead-letters in one step, and lists, redrives (attempts reset) and purges by filter', async () => {
    await driver.enqueue(queue('dlq'), [prepared(1), prepared(2, { type: 'Pong' })]);
    const source: ConsumeSource = { queue: 'dlq' };
    const receiver = await driver.openReceiver(source, options);
    const got = await receiver.receive(10, never);
    const now = new Date().toISOString();
    const letters = [];
    for (const message of got) {
      letters.push(
        await receiver.deadLetter(message, {
          message: message.kind === 'envelope' ? message.envelope : null,
          raw: null,
          source,
          consumer: 'dlq',
          reason: 'max-attempts',
          error: 'Error: boom',
          stack: 'Error: boom\n    at test',
          attempts: message.deliveryCount,
          firstFailedAt: now,
          lastFailedAt: now,
        }),
      );
    }
    expect(driver.database.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(0);
    expect((await driver.deadLetters.list()).map((l) => l.id)).toEqual(letters.map((l) => l.id));
    expect(await driver.deadLetters.get(letters[1]!.id)).toEqual(letters[1]);
    expect((await driver.deadLetters.list({ type: 'Pong' })).map((l) => l.id)).toEqual([letters[1]!.id]);
    expect(await driver.deadLetters.list({ source: { queue: 'other' } })).toEqual([]);
    expect(await driver.deadLetters.list({ before: '2000-01-01T00:00:00.000Z' })).toEqual([]);
    expect(await driver.deadLetters.redrive({ type: 'Ping' })).toBe(1);
    const back = await receiver.receive(10, never);
    expect(dataOf(back)).toEqual([{ n: 1 }]);
    expect(back[0]!.deliveryCount).toBe(1);
    expect(await driver.deadLetters.purge({ reason: 'max-attempts' })).toBe(1);
    expect(await driver.deadLetters.list()).toEqual([]);
  });

  it('refuses a dead-letter write from a delivery whose lease ran out and was claimed again, parking the message once', async () => {
    await driver.enqueue(queue('lost'), [prepared(1, { partitionKey: 'k' })]);
    const source: ConsumeSource = { queue: 'lost' };
    const late = await peer().openReceiver(source, { ...options, visibilityTimeoutMs: 200 });
    const holder = await driver.openReceiver(source, options);
    const [lost] = await late.receive(1, never);
    const [taken] = await receiveWithin(holder, 1, 3_000);
    expect(taken?.deliveryCount).toBe(2);
    const verdict = (message: ReceivedMessage) => {
      const now = new Date().toISOString();
      return { message: message.kind === 'envelope' ? message.envelope : null, raw: null, source, consumer: 'lost', reason: 'max-attempts' as const, error: 'Error: boom', stack: null, attempts: message.deliveryCount, firstFailedAt: now, lastFailedAt: now };
    };
    // The first holder's late verdict: a typed error, no record, nothing parked, the message still the new holder's.
    const refused = late.deadLetter(lost!, verdict(lost!));
    await expect(refused).rejects.toBeInstanceOf(DeliveryLostError);
    await expect(refused).rejects.toMatchObject({ code: 'DELIVERY_LOST', messageId: lost!.kind === 'envelope' ? lost!.envelope.id : null });
    expect(await driver.deadLetters.list()).toEqual([]);
    expect(driver.database.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(1);
    // The new holder can still park it, once, and that record is the stored one.
    const parked = await holder.deadLetter(taken!, verdict(taken!));
    expect(await driver.deadLetters.list()).toEqual([parked]);
    expect(await driver.deadLetters.get(parked.id)).toEqual(parked);
    expect(driver.database.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(0);
  });

  it('commits sends that arrive together in one transaction', async () => {
    await Promise.all(Array.from({ length: 100 }, (_, i) => driver.enqueue(queue('group'), [prepared(i)])));
    expect(driver.writeStats.largestGroup).toBe(100);
    expect(driver.writeStats.commits).toBe(1);
  });

  it('refuses everything with TransportClosedError once closed', async () => {
    const receiver = await driver.openReceiver({ queue: 'closed' }, options);
    const waiting = receiver.receive(1, never);
    await driver.close();
    // Not [] at once: a caller looping on receive would spin.
    await expect(waiting).rejects.toBeInstanceOf(TransportClosedError);
    await expect(driver.enqueue(queue('closed'), [prepared(1)])).rejects.toBeInstanceOf(TransportClosedError);
    await expect(driver.deadLetters.list()).rejects.toBeInstanceOf(TransportClosedError);
  });
});

describe('SqliteTransportDriver on an event store', () => {
  let file: TempFile;
  afterEach(() => file.remove());

  it("shares the store's connection, and a send made inside a read-model transaction commits with it", async () => {
    file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    const driver = new SqliteTransportDriver({ database: store.database });
    try {
      await driver.enqueue(queue('shared'), [prepared(1)]);
      const receiver = await driver.openReceiver({ queue: 'shared' }, { consumer: 'shared', visibilityTimeoutMs: 5_000, prefetch: 10 });
      expect(dataOf(await receiver.receive(10, never))).toEqual([{ n: 1 }]);
      const { connectionLock } = await import('../../src/connection-lock.js');
      await expect(
        connectionLock(store.database).exclusive(async () => {
          store.database.exec('BEGIN IMMEDIATE');
          await driver.enqueue(queue('shared'), [prepared(2)]);
          store.database.exec('ROLLBACK');
        }),
      ).resolves.toBeUndefined();
      expect(await receiveWithin(receiver, 10, 100)).toEqual([]);
    } finally {
      await driver.close();
      await store.close();
    }
  });
});
