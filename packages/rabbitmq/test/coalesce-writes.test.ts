/** The socket writes of one multiplexer pass go out as one `writev` on the pinned amqplib, and the messages arrive whole and in order. */
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { RABBITMQ, serviceOrSkip } from '@eventloom/testing';
import { coalesceWrites } from '../src/coalesce-writes.js';
import { deleteAll, unique } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);

interface Socket {
  _write(...args: unknown[]): void;
  _writev(...args: unknown[]): void;
}

/** Publishes 50 messages in one turn of the event loop and counts the socket's write calls until they are confirmed. */
async function writesFor50(coalesce: boolean, queue: string): Promise<{ calls: number; received: string[] }> {
  const connection = await amqp.connect(url!);
  try {
    if (coalesce) expect(coalesceWrites(connection)).toBe(true);
    const socket = (connection.connection as unknown as { stream: Socket }).stream;
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    let calls = 0;
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...args) => {
      calls++;
      write(...args);
    };
    socket._writev = (...args) => {
      calls++;
      writev(...args);
    };
    for (let i = 0; i < 50; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true });
    await channel.waitForConfirms();
    const counted = calls;
    const received: string[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) break;
      received.push(message.content.toString());
    }
    await channel.close();
    return { calls: counted, received };
  } finally {
    await connection.close();
  }
}

describe.skipIf(!url)('coalesced socket writes', () => {
  const queues: string[] = [];
  afterEach(async () => deleteAll(url!, queues.splice(0), []));

  it('50 publishes in one turn take a few write calls instead of 50, and arrive in order', async () => {
    const plainQueue = unique('cork-off');
    const corkedQueue = unique('cork-on');
    queues.push(plainQueue, corkedQueue);
    const plain = await writesFor50(false, plainQueue);
    const corked = await writesFor50(true, corkedQueue);
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    expect(plain.received).toEqual(expected);
    expect(corked.received).toEqual(expected);
    expect(plain.calls).toBeGreaterThanOrEqual(50);
    // One pass holds what fits under the socket's high-water mark (16 KiB): all 50 here.
    expect(corked.calls).toBeLessThanOrEqual(3);
  });
});
