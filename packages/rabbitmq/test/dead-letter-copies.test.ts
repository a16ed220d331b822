/**
 * A message parked, then handed out again before its ack reached the broker (a connection lost
 * between the two), fails again and is parked a second time. RabbitMQ keeps both copies; the
 * dead-letter queue must still show one dead letter, and redrive or purge must take both away.
 */
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { isUuid, uuidv7, type Event } from '@eventloom/core';
import { RABBITMQ, serviceOrSkip } from '@eventloom/testing';
import { deadLetterId } from '../src/dead-letter-store.js';
import { eventually, Fixtures, unique } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);

type Ping = Event<'Ping', { n: number }>;

describe('dead letter ids', () => {
  const draft = { consumer: 'billing', source: { queue: 'payments' } } as const;
  const message = (messageId?: string) => ({ properties: { messageId } }) as Parameters<typeof deadLetterId>[2];

  it('are one UUID for the same message, consumer, source and dead-letter queue, and differ when any differs', () => {
    const id = uuidv7();
    const a = deadLetterId('dl', draft, message(id));
    expect(isUuid(a)).toBe(true);
    expect(deadLetterId('dl', draft, message(id))).toBe(a);
    expect(deadLetterId('dl', { ...draft, consumer: 'shipping' }, message(id))).not.toBe(a);
    expect(deadLetterId('dl', { ...draft, source: { queue: 'other' } }, message(id))).not.toBe(a);
    expect(deadLetterId('dl', { consumer: 'billing', source: { topic: 'payments', group: 'g' } }, message(id))).not.toBe(a);
    expect(deadLetterId('dl-2', draft, message(id))).not.toBe(a);
    expect(deadLetterId('dl', draft, message(uuidv7()))).not.toBe(a);
  });

  it('are random for a message without an id: nothing says two such copies are one', () => {
    const a = deadLetterId('dl', draft, message());
    const b = deadLetterId('dl', draft, message());
    expect(isUuid(a) && isUuid(b)).toBe(true);
    expect(a).not.toBe(b);
  });
});

describe.skipIf(!url)('RabbitMQ dead letters parked twice', () => {
  let fx: Fixtures;
  afterEach(async () => fx?.cleanup());

  it('show as one dead letter, and redrive takes every copy away and delivers the message once', async () => {
    fx = new Fixtures(url!);
    const { transport } = fx.make();
    const queue = unique('q');
    const id = uuidv7();
    const handled: number[] = [];
    let healthy = false;
    const consumer = transport.consume<Ping>(
      { queue },
      {
        Ping: (m) => {
          if (!healthy) throw new Error(`boom ${m.data.n}`);
          handled.push(m.data.n);
        },
      },
      { logger: false, failurePolicy: { maxAttempts: 1 } },
    );
    await transport.send<Ping>(queue, { id, type: 'Ping', data: { n: 1 } });
    await eventually(async () => (await transport.deadLetters.list({ consumer: queue })).length === 1, 10_000);
    const [first] = await transport.deadLetters.list({ consumer: queue });
    // The same message handed out again (as after an ack lost with the connection): it fails and is parked again.
    await transport.send<Ping>(queue, { id, type: 'Ping', data: { n: 1 } });
    await eventually(async () => {
      const [dead] = await transport.deadLetters.list({ consumer: queue });
      return dead !== undefined && dead.lastFailedAt > first!.lastFailedAt;
    }, 10_000);
    const listed = await transport.deadLetters.list({ consumer: queue });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.id).toBe(first!.id);
    expect(listed[0]!.message?.id).toBe(id);
    expect(await transport.deadLetters.get(first!.id)).toEqual(listed[0]);

    healthy = true;
    expect(await transport.deadLetters.redrive({ ids: [first!.id] })).toBe(1);
    await eventually(() => handled.length === 1, 10_000);
    expect(await transport.deadLetters.list()).toEqual([]);
    // Nothing more arrives: one copy was sent back, not two.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([1]);
    await consumer.stop();
  });

  it('purge takes every copy away', async () => {
    fx = new Fixtures(url!);
    const { transport } = fx.make();
    const queue = unique('q');
    const id = uuidv7();
    const consumer = transport.consume<Ping>({ queue }, { Ping: () => { throw new Error('boom'); } }, { logger: false, failurePolicy: { maxAttempts: 1 } });
    for (let i = 1; i <= 3; i++) {
      await transport.send<Ping>(queue, { id, type: 'Ping', data: { n: i } });
      await eventually(async () => (await copiesParked(url!, fx.deadLetterQueue)) === i, 10_000);
    }
    // Three copies on the broker, one dead letter listed.
    expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(1);
    expect(await transport.deadLetters.purge({ consumer: queue })).toBe(1);
    expect(await transport.deadLetters.list()).toEqual([]);
    await consumer.stop();
  });
});

/** Messages on the dead-letter queue as the broker counts them (every copy). */
async function copiesParked(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return messageCount;
  } finally {
    await connection.close();
  }
}
