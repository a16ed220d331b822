import { MemoryTransport, MemoryTransportStorage, TransportClosedError, type DeliveredMessage, type Event } from '@eventloom/core';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';

type Registered = Event<'UserRegistered', { email: string }>;

const transports: MemoryTransport[] = [];
function open(options: ConstructorParameters<typeof MemoryTransport>[0] = {}): MemoryTransport {
  const transport = new MemoryTransport({ source: 'smoke', ...options });
  transports.push(transport);
  return transport;
}
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

async function eventually(check: () => unknown, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

const name = (prefix: string): string => `${prefix}-${randomUUID()}`;

describe('MemoryTransport smoke', () => {
  it('sends to a queue and hands the handler the whole envelope, acked once', async () => {
    const transport = open();
    const queue = name('q');
    const seen: DeliveredMessage<Registered>[] = [];
    const consumer = transport.consume<Registered>({ queue }, { UserRegistered: (m) => void seen.push(m) }, { logger: false });
    await consumer.ready;
    const [sent] = await transport.send<Registered>(queue, { type: 'UserRegistered', data: { email: 'ada@example.com' }, subject: 'user-1', partitionKey: 'user-1', metadata: { tenantId: 't1' } });
    await eventually(() => expect(seen).toHaveLength(1));
    const m = seen[0]!;
    expect(m).toMatchObject({
      id: sent!.id,
      type: 'UserRegistered',
      schemaVersion: 1,
      source: 'smoke',
      correlationId: sent!.id,
      causationId: null,
      subject: 'user-1',
      partitionKey: 'user-1',
      data: { email: 'ada@example.com' },
      metadata: { tenantId: 't1' },
      attempt: 1,
      destination: { kind: 'queue', name: queue },
    });
    await eventually(() => expect(consumer.handled).toBe(1));
    await consumer.stop();
    expect(consumer.status).toBe('stopped');
    expect(transport.storage.depth({ queue })).toBe(0);
  });

  it('fans a topic out to every group, retries with backoff, then dead-letters', async () => {
    const transport = open();
    const topic = name('t');
    let failing = 0;
    const mails: string[] = [];
    transport.consume<Registered>({ topic, group: 'mailer' }, { UserRegistered: (m) => void mails.push(m.data.email) }, { logger: false });
    const crm = transport.consume<Registered>(
      { topic, group: 'crm' },
      {
        UserRegistered: () => {
          failing++;
          throw new Error('crm down');
        },
      },
      { logger: false, failurePolicy: { maxAttempts: 3, retryDelayMs: 5 } },
    );
    await crm.ready;
    await transport.publish<Registered>(topic, [{ type: 'UserRegistered', data: { email: 'a@x' } }]);
    await eventually(() => expect(mails).toEqual(['a@x']));
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: 'crm' })).toHaveLength(1));
    expect(failing).toBe(3);
    const [dead] = await transport.deadLetters.list({ consumer: 'crm' });
    expect(dead).toMatchObject({ reason: 'max-attempts', attempts: 3, error: 'Error: crm down', source: { topic, group: 'crm' } });
  });

  it('brings back what a crashed transport held, to a peer on the same storage', async () => {
    const storage = new MemoryTransportStorage();
    const a = open({ storage });
    const b = open({ storage });
    const queue = name('q');
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    a.consume({ queue }, { Job: () => (started(), new Promise(() => {})) }, { logger: false, visibilityTimeoutMs: 200 });
    await a.send(queue, { type: 'Job', data: {} });
    await inHandler;
    await a.crash();
    const attempts: number[] = [];
    b.consume({ queue }, { Job: (m) => void attempts.push(m.attempt) }, { logger: false, visibilityTimeoutMs: 200 });
    await eventually(() => expect(attempts).toEqual([2]));
    await expect(a.send(queue, { type: 'Job', data: {} })).rejects.toBeInstanceOf(TransportClosedError);
  });

  it('a sender outrunning its consumer yields: a loop of awaited sends never piles up far beyond what the consumer takes', async () => {
    const transport = open({ isolation: 'shared', tracing: false });
    const queue = name('q');
    let handled = 0;
    const consumer = transport.consume({ queue }, { N: () => void handled++ }, { logger: false, prefetch: 2_000 });
    await consumer.ready;
    const batch = Array.from({ length: 1_000 }, (_, n) => ({ type: 'N', data: { n } }));
    let deepest = 0;
    for (let i = 0; i < 60; i++) {
      await transport.send(queue, batch);
      deepest = Math.max(deepest, transport.storage.depth({ queue }));
    }
    await eventually(() => expect(handled).toBe(60_000));
    // Sends and handling both run on microtasks; without the yield the queue grew to ~18,000 here.
    expect(deepest).toBeLessThan(10_000);
  });

  it('refuses a bad destination name after a good one was sent to (the last valid name is remembered, nothing else)', async () => {
    const transport = open();
    const queue = name('q');
    await transport.send(queue, { type: 'N', data: {} });
    await transport.send(queue, { type: 'N', data: {} });
    for (const bad of [undefined, '', 'a..b', `${queue}.`, '-x']) {
      await expect(transport.send(bad as string, { type: 'N', data: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await transport.send(queue, { type: 'N', data: {} });
    expect(transport.storage.depth({ queue })).toBe(3);
  });
});
