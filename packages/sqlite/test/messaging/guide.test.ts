/** The SQLite transport's README code, run as tests (the regions are shown verbatim in packages/sqlite/README.md). */
import type { Event } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteTransport } from '../../src/index.js';
import { tempFile, type TempFile } from '../temp-file.js';

type ChargeCard = Event<'ChargeCard', { orderId: string; cents: number }>;
type CardCharged = Event<'CardCharged', { orderId: string }>;

describe('SQLite transport guide', () => {
  let file: TempFile;
  afterEach(() => file.remove());

  it('sends a command to a queue and publishes the event it causes to a topic group, in the store file', async () => {
    file = tempFile('shop.db');
    const filename = file.filename;
    const charged: string[] = [];
    // #region transport
    const store = openSqliteEventStore({ filename });
    const transport = openSqliteTransport({ store, source: 'billing' });

    // Ahead of the first publish, so the group gets it.
    await transport.declare([{ topic: 'billing.events', group: 'mailer' }]);
    const billing = transport.consume<ChargeCard>(
      { queue: 'billing.charge-card' },
      {
        ChargeCard: async (command, context) => {
          // …charge the card, then tell whoever listens; correlation and causation are carried on.
          await context.publish('billing.events', { type: 'CardCharged', data: { orderId: command.data.orderId } });
        },
      },
      { concurrency: 4, failurePolicy: { maxAttempts: 5, retryDelayMs: 200 } },
    );
    const mailer = transport.consume<CardCharged>(
      { topic: 'billing.events', group: 'mailer' },
      { CardCharged: (event) => void charged.push(event.data.orderId) },
    );

    await transport.send('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-1', cents: 1250 }, partitionKey: 'o-1' });
    // #endregion transport
    await expect.poll(() => charged, { timeout: 10_000 }).toEqual(['o-1']);
    await billing.stop();
    await mailer.stop();
    await transport.close();
    await store.close();
  });

  it('parks a message that keeps failing with its error, and redrives it', async () => {
    file = tempFile('shop.db');
    const transport = openSqliteTransport({ filename: file.filename });
    let failing = true;
    const handled: number[] = [];
    const consumer = transport.consume<ChargeCard>(
      { queue: 'billing.charge-card' },
      {
        ChargeCard: (command) => {
          if (failing) throw new Error('card declined');
          handled.push(command.data.cents);
        },
      },
      { failurePolicy: { maxAttempts: 2, retryDelayMs: 10, jitter: 0 }, logger: false },
    );
    await transport.send('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-2', cents: 990 } });
    await expect.poll(async () => (await transport.deadLetters.list()).length, { timeout: 10_000 }).toBe(1);
    failing = false;
    // #region dead-letters
    const parked = await transport.deadLetters.list({ consumer: 'billing.charge-card', reason: 'max-attempts' });
    console.log(parked[0]?.error, parked[0]?.attempts); // 'Error: card declined' 2
    // Back on the queue with attempts reset, and gone from the dead letters, in one transaction.
    await transport.deadLetters.redrive({ ids: parked.map((letter) => letter.id) });
    // #endregion dead-letters
    expect(parked[0]).toMatchObject({ error: 'Error: card declined', attempts: 2, source: { queue: 'billing.charge-card' } });
    await expect.poll(() => handled, { timeout: 10_000 }).toEqual([990]);
    expect(await transport.deadLetters.list()).toEqual([]);
    await consumer.stop();
    await transport.close();
  });
});
