/**
 * A consumer whose lease runs out while its handler runs (renewals that never reach the storage,
 * as in a paused process) and who then dead-letters the message, which another consumer has
 * claimed meanwhile: nothing is parked, the message is not lost, and the late consumer is told
 * with a DeliveryLostError, not handed a dead letter that does not exist. Through core's engine
 * on the SQLite driver (the driver's own answer is in driver.test.ts).
 */
import Database from 'better-sqlite3';
import { DeliveryLostError, type ConsumerEvent, type Event } from '@eventloom/core';
import { createTransport, type TransportDriver } from '@eventloom/core/adapter';
import { forwardReceiver, wrapReceivers } from '@eventloom/testing';
import { afterEach, expect, it } from 'vitest';
import { SqliteTransportDriver } from '../../src/messaging/sqlite-transport-driver.js';
import { tempFile, type TempFile } from '../temp-file.js';

type Ping = Event<'Ping', { n: number }>;

/** The driver, with every lease renewal of its receivers dropped. */
function withoutRenewals(driver: TransportDriver): TransportDriver {
  return wrapReceivers(driver, (receiver) => ({ ...forwardReceiver(receiver), extend: async () => undefined }));
}

/** Messages still in the file's queue table (on a connection of its own). */
function queued(filename: string): number {
  const db = new Database(filename, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM queue_messages').pluck().get() as number;
  } finally {
    db.close();
  }
}

const files: TempFile[] = [];
afterEach(() => {
  for (const file of files.splice(0)) file.remove();
});

it('parks nothing and loses nothing when a consumer dead-letters a message its expired lease no longer holds', async () => {
  const file = tempFile();
  files.push(file);
  const late = createTransport(withoutRenewals(new SqliteTransportDriver({ filename: file.filename, pollIntervalMs: 20 })), { tracing: false });
  const holder = createTransport(new SqliteTransportDriver({ filename: file.filename, pollIntervalMs: 20 }), { tracing: false });
  try {
    const [sent] = await late.send('work', { type: 'Ping', data: { n: 1 } });
    let claimedAgain!: () => void;
    const secondClaim = new Promise<void>((resolve) => (claimedAgain = resolve));
    let verdictGiven!: () => void;
    const verdict = new Promise<void>((resolve) => (verdictGiven = resolve));
    const lateEvents: ConsumerEvent[] = [];
    const handledBy: string[] = [];

    const first = late.consume<Ping>(
      { queue: 'work' },
      {
        Ping: async (_message, context) => {
          handledBy.push('late');
          // Held past its lease (100 ms, never renewed) until the other consumer has the message.
          await secondClaim;
          context.deadLetter('poison');
        },
      },
      {
        visibilityTimeoutMs: 100,
        // One at a time: with room to prefetch, this consumer would claim its own expired message again.
        prefetch: 1,
        logger: false,
        onEvent: (event) => {
          lateEvents.push(event);
          if (event.type === 'error' || event.type === 'dead-lettered') verdictGiven();
        },
      },
    );
    first.done.catch(() => verdictGiven());
    await expect.poll(() => handledBy.length, { timeout: 5_000 }).toBe(1);

    const second = holder.consume<Ping>(
      { queue: 'work' },
      {
        Ping: async (message) => {
          handledBy.push(`holder:${message.id}`);
          claimedAgain();
          // Acked only after the late verdict was answered, so it met the message claimed, not gone.
          await verdict;
        },
      },
      { visibilityTimeoutMs: 30_000, logger: false },
    );
    await expect.poll(() => second.handled, { timeout: 5_000 }).toBe(1);

    expect(handledBy).toEqual(['late', `holder:${sent!.id}`]);
    expect(await holder.deadLetters.list()).toEqual([]);
    // Not lost either: the holder's ack removed it.
    await expect.poll(() => queued(file.filename), { timeout: 5_000 }).toBe(0);
    expect(lateEvents.some((event) => event.type === 'dead-lettered')).toBe(false);
    const lost = lateEvents.find((event) => event.type === 'error');
    const told = lost?.type === 'error' ? lost.error : await first.done.then(() => null, (error: unknown) => error);
    expect(told).toBeInstanceOf(DeliveryLostError);
    expect(told).toMatchObject({ code: 'DELIVERY_LOST', messageId: sent!.id });
    // The late consumer keeps consuming: a lost race is not a failure of the consumer.
    expect(first.status).toBe('running');
    await late.send('work', { type: 'Ping', data: { n: 2 } });
    await expect.poll(() => handledBy.length, { timeout: 5_000 }).toBe(3);
  } finally {
    await late.close();
    await holder.close();
  }
});
