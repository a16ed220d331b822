/**
 * A server that stays away: sends fail with TransportUnavailableError after the bound (never a
 * raw NATS error), a consumer reports errors it will retry and carries on when the server is
 * back, and what it held and had not acked is delivered again.
 */
import { randomUUID } from 'node:crypto';
import { EventloomError, TransportUnavailableError, type ConsumerEvent } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { natsServerAvailable, ThrowawayNatsServer } from './throwaway-server.js';

describe.skipIf(!natsServerAvailable())('a NATS server that goes away', () => {
  let server: ThrowawayNatsServer;
  beforeAll(async () => {
    server = await ThrowawayNatsServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('send fails with TransportUnavailableError after unavailableAfterMs; after the restart it works, and a consumer carries on', async () => {
    const transport = await openNatsTransport({ servers: server.url, prefix: 'gone', unavailableAfterMs: 1_500 });
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const events: ConsumerEvent[] = [];
    const handled: number[] = [];
    const consumer = transport.consume<{ type: 'N'; data: { n: number } }>(
      { queue },
      { N: (m) => void handled.push(m.data.n) },
      { logger: false, onEvent: (e) => events.push(e), visibilityTimeoutMs: 2_000 },
    );
    await consumer.ready;
    await transport.send(queue, { type: 'N', data: { n: 1 } });
    await expect.poll(() => handled, { timeout: 10_000 }).toEqual([1]);

    await server.kill();
    const started = Date.now();
    const error = await transport.send(queue, { type: 'N', data: { n: 2 } }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(TransportUnavailableError);
    expect(error).toBeInstanceOf(EventloomError);
    expect((error as TransportUnavailableError).code).toBe('TRANSPORT_UNAVAILABLE');
    expect(waited).toBeGreaterThanOrEqual(1_400);
    expect(waited).toBeLessThan(15_000);

    await server.up();
    // The client reconnects by itself; a send made before it has is refused the same typed way.
    const deadline = Date.now() + 20_000;
    let resent = 0;
    for (;;) {
      try {
        await transport.send(queue, { type: 'N', data: { n: 3 } });
        break;
      } catch (e) {
        expect(e).toBeInstanceOf(TransportUnavailableError);
        if (Date.now() > deadline) throw e;
        resent++;
      }
    }
    expect(resent).toBeLessThan(10);
    await expect.poll(() => handled, { timeout: 20_000 }).toContain(3);
    expect(consumer.status).toBe('running');
    // An outage shorter than the bound may pass unseen by the consumer (its pulls just wait); whatever it reported, it will retry.
    expect(events.filter((e) => e.type === 'error' && !e.willRetry)).toEqual([]);
    await consumer.stop();
    await transport.close();
  });
});
