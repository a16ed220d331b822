// The consumer engine's own rules, beyond what the shared conformance suite reaches: transport
// faults, 'hold' retries, leases, the prefetch bound, schemas, odd throws, options and stopping.
import {
  DeliveryLostError,
  InvalidArgumentError,
  MemoryTransport,
  MemoryTransportStorage,
  SchemaRegistry,
  StoreUnavailableError,
  TransportClosedError,
  TransportUnavailableError,
  type ConsumerEvent,
  type DeliveredMessage,
  type Transport,
} from '@eventloom/core';
import { createTransport, MemoryTransportDriver } from '@eventloom/core/adapter';
import { forwardReceiver, wrapReceivers } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually, faultyDriver, recorder, sleep, unique } from './support.js';

const opened: Transport[] = [];
function track<T extends Transport>(transport: T): T {
  opened.push(transport);
  return transport;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close().catch(() => {})));
});

function faulty(storage = new MemoryTransportStorage()) {
  const { driver, faults } = faultyDriver(new MemoryTransportDriver(storage));
  return { transport: track(createTransport(driver, { source: 'engine-test' })), faults, storage };
}

const quiet = { logger: false as const };

describe('consumer engine', () => {
  it('waits out transient transport errors on receive, reporting each with willRetry, and goes on', async () => {
    const { transport, faults } = faulty();
    const queue = unique('q');
    const { events, onEvent } = recorder();
    faults.fail('receive', new TransportUnavailableError('memory', 'broker restarting'), new StoreUnavailableError('connection lost'));
    const seen: number[] = [];
    const consumer = transport.consume({ queue }, { N: (m) => void seen.push((m.data as { n: number }).n) }, { ...quiet, onEvent });
    await transport.send(queue, [1, 2, 3].map((n) => ({ type: 'N', data: { n } })));
    await eventually(() => expect(seen).toEqual([1, 2, 3]));
    const errors = events.filter((e): e is Extract<ConsumerEvent, { type: 'error' }> => e.type === 'error');
    expect(errors.map((e) => [(e.error as Error).name, e.willRetry])).toEqual([
      ['TransportUnavailableError', true],
      ['StoreUnavailableError', true],
    ]);
    expect(consumer.status).toBe('running');
  });

  it('a receiver that answers empty at once does not starve timers: the loop backs off, then takes messages again', async () => {
    const storage = new MemoryTransportStorage();
    const inner = new MemoryTransportDriver(storage);
    let emptyAtOnce = true;
    let calls = 0;
    const driver = wrapReceivers(inner, (receiver) => ({
      ...forwardReceiver(receiver),
      receive: async (max, signal) => {
        calls++;
        return emptyAtOnce ? [] : receiver.receive(max, signal);
      },
    }));
    const transport = track(createTransport(driver, { source: 'engine-test' }));
    const queue = unique('q');
    const seen: number[] = [];
    const consumer = transport.consume({ queue }, { N: (m) => void seen.push((m.data as { n: number }).n) }, quiet);
    await consumer.ready;
    // Spinning on resolved promises would never let this timer fire (the test would time out).
    await sleep(300);
    expect(calls).toBeGreaterThan(2);
    expect(calls).toBeLessThan(300);
    emptyAtOnce = false;
    await transport.send(queue, { type: 'N', data: { n: 1 } });
    await eventually(() => expect(seen).toEqual([1]));
  });

  it('stops visibly on a transport error time cannot fix: status failed, done rejects with it, willRetry false', async () => {
    const { transport, faults } = faulty();
    const queue = unique('q');
    const { events, onEvent } = recorder();
    const broken = new TransportClosedError('memory');
    const consumer = transport.consume({ queue }, { N: () => {} }, { ...quiet, onEvent });
    await consumer.ready;
    faults.fail('ack', broken);
    await transport.send(queue, { type: 'N', data: {} });
    await expect(consumer.done).rejects.toBe(broken);
    expect(consumer.status).toBe('failed');
    expect(events).toContainEqual({ type: 'error', consumer: queue, error: broken, willRetry: false });
  });

  it('retries an ack that failed transiently, so the message is not handled twice', async () => {
    const { transport, faults } = faulty();
    const queue = unique('q');
    let calls = 0;
    const consumer = transport.consume({ queue }, { N: () => void calls++ }, quiet);
    await consumer.ready;
    faults.fail('ack', new TransportUnavailableError('memory', 'blip'));
    await transport.send(queue, { type: 'N', data: {} });
    await eventually(() => expect(faults.calls.ack).toBeGreaterThanOrEqual(2));
    await sleep(50);
    expect(calls).toBe(1);
    expect(consumer.handled).toBe(1);
  });

  it('survives handlers that throw non-Errors: each is retried, then dead-lettered with a printable error', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    const throws: unknown[] = ['a string', undefined, null, 42, { toString: () => { throw new Error('no'); } }, Symbol('s')];
    const consumer = transport.consume(
      { queue },
      {
        N: (m) => {
          throw throws[(m.data as { i: number }).i];
        },
      },
      { ...quiet, failurePolicy: { maxAttempts: 2, retryDelayMs: 1 } },
    );
    await transport.send(queue, throws.map((_, i) => ({ type: 'N', data: { i } })));
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(throws.length));
    const errors = (await transport.deadLetters.list({ consumer: queue })).map((d) => [(d.message!.data as { i: number }).i, d.error, d.stack, d.attempts]);
    expect(errors.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [0, 'non-Error thrown: a string', null, 2],
      [1, 'non-Error thrown: undefined', null, 2],
      [2, 'non-Error thrown: null', null, 2],
      [3, 'non-Error thrown: 42', null, 2],
      [4, 'non-Error thrown: a value that cannot be printed', null, 2],
      [5, 'non-Error thrown: Symbol(s)', null, 2],
    ]);
    expect(consumer.status).toBe('running');
  });

  it("runs a 'hold' retry again in place: attempts counted, the key's later messages wait, then dead-lettered", async () => {
    const { transport, faults } = faulty();
    faults.hold = true;
    const queue = unique('q');
    const { events, onEvent } = recorder();
    const order: string[] = [];
    const consumer = transport.consume(
      { queue },
      {
        N: (m) => {
          const { n } = m.data as { n: number };
          order.push(`${m.partitionKey}:${n}@${m.attempt}`);
          if (n === 1) throw new Error('first fails');
        },
      },
      { ...quiet, onEvent, concurrency: 4, failurePolicy: { maxAttempts: 3, retryDelayMs: 20 } },
    );
    await transport.send(queue, [
      { type: 'N', data: { n: 1 }, partitionKey: 'k' },
      { type: 'N', data: { n: 2 }, partitionKey: 'k' },
      { type: 'N', data: { n: 3 }, partitionKey: 'other' },
    ]);
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(1));
    await eventually(() => expect(order).toContain('k:2@1'));
    const keyK = order.filter((o) => o.startsWith('k:'));
    expect(keyK).toEqual(['k:1@1', 'k:1@2', 'k:1@3', 'k:2@1']);
    // The other key did not wait for k's retries.
    expect(order.indexOf('other:3@1')).toBeLessThan(order.indexOf('k:1@3'));
    const [dead] = await transport.deadLetters.list({ consumer: queue });
    expect(dead).toMatchObject({ reason: 'max-attempts', attempts: 3, error: 'Error: first fails' });
    expect(events.filter((e) => e.type === 'retrying').map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
    // Each attempt brought to an end counts, held retries as redelivered ones do: 2 retries + 1 dead letter + 2 acks.
    await eventually(() => expect(consumer.handled).toBe(5));
  });

  it('renews the lease while a handler runs past the visibility timeout: no other consumer gets the message', async () => {
    const storage = new MemoryTransportStorage();
    const a = track(new MemoryTransport({ storage }));
    const b = track(new MemoryTransport({ storage }));
    const queue = unique('q');
    const handledBy: string[] = [];
    a.consume({ queue }, { Slow: async () => (handledBy.push('a'), await sleep(700)) }, { ...quiet, visibilityTimeoutMs: 150 });
    await a.send(queue, { type: 'Slow', data: {} });
    await eventually(() => expect(handledBy).toEqual(['a']));
    b.consume({ queue }, { Slow: () => void handledBy.push('b') }, { ...quiet, visibilityTimeoutMs: 150 });
    await eventually(() => expect(storage.depth({ queue })).toBe(0), 3_000);
    expect(handledBy).toEqual(['a']);
  });

  it('never holds more than prefetch messages claimed and unsettled, with slow handlers of random length', async () => {
    const { transport, faults } = faulty();
    const queue = unique('q');
    let done = 0;
    transport.consume(
      { queue },
      {
        N: async () => {
          await sleep(Math.random() * 4);
          done++;
        },
      },
      { ...quiet, concurrency: 3, prefetch: 5 },
    );
    await transport.send(
      queue,
      Array.from({ length: 200 }, (_, i) => ({ type: 'N', data: { i }, partitionKey: i % 3 === 0 ? `k${i % 7}` : undefined })),
    );
    await eventually(() => expect(done).toBe(200), 15_000);
    expect(faults.maxOutstanding).toBeGreaterThan(1);
    expect(faults.maxOutstanding).toBeLessThanOrEqual(5);
  });

  it('validates against the schema registry and upcasts: handlers see the latest version, bad data is dead-lettered', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    const schemas = new SchemaRegistry()
      .register('UserRegistered', 1, z.object({ name: z.string() }))
      .register('UserRegistered', 2, z.object({ firstName: z.string(), lastName: z.string() }))
      .upcaster<{ name: string }, { firstName: string; lastName: string }>({
        type: 'UserRegistered',
        fromVersion: 1,
        upcast: (d) => ({ firstName: d.name.split(' ')[0]!, lastName: d.name.split(' ')[1] ?? '' }),
      });
    const seen: DeliveredMessage[] = [];
    transport.consume({ queue }, { UserRegistered: (m) => void seen.push(m) }, { ...quiet, schemas });
    await transport.send(queue, [
      { type: 'UserRegistered', schemaVersion: 1, data: { name: 'Ada Lovelace' } },
      { type: 'UserRegistered', schemaVersion: 1, data: { name: 7 } },
      { type: 'UserRegistered', schemaVersion: 2, data: { firstName: 'Alan', lastName: 'Turing' } },
    ]);
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(1));
    await eventually(() => expect(seen).toHaveLength(2));
    expect(seen.map((m) => [m.schemaVersion, m.data])).toEqual([
      [2, { firstName: 'Ada', lastName: 'Lovelace' }],
      [2, { firstName: 'Alan', lastName: 'Turing' }],
    ]);
    const [dead] = await transport.deadLetters.list({ consumer: queue });
    expect(dead!.reason).toBe('invalid-schema');
    expect(dead!.attempts).toBe(1);
    expect(dead!.error).toMatch(/InvalidEventError: .*message\.data\.name/);
    // The dead letter keeps the message as it arrived, not as upcast.
    expect(dead!.message).toMatchObject({ schemaVersion: 1, data: { name: 7 } });
  });

  it('dead-letters a type without a handler, naming the type and the way out', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    transport.consume({ queue }, { Known: () => {} }, quiet);
    await transport.send(queue, { type: 'Unknown', data: {} });
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(1));
    const [dead] = await transport.deadLetters.list({ consumer: queue });
    expect(dead).toMatchObject({ reason: 'unknown-type', attempts: 1 });
    expect(dead!.error).toBe(`UnknownMessageType: consumer ${queue} has no handler for message type 'Unknown'; add one, or consume with unhandled: 'ack' to skip such messages`);
  });

  it('context.deadLetter parks the message at once with the reason; context.retry on the last attempt dead-letters', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    transport.consume(
      { queue },
      {
        Reject: (_m, ctx) => ctx.deadLetter('customer unknown'),
        Again: (_m, ctx) => ctx.retry({ delayMs: 1 }),
      },
      { ...quiet, failurePolicy: { maxAttempts: 2 } },
    );
    await transport.send(queue, [
      { type: 'Reject', data: {} },
      { type: 'Again', data: {} },
    ]);
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(2));
    const byType = Object.fromEntries((await transport.deadLetters.list({ consumer: queue })).map((d) => [d.message!.type, d]));
    expect(byType.Reject).toMatchObject({ reason: 'rejected', error: 'Rejected: customer unknown', attempts: 1 });
    expect(byType.Again).toMatchObject({ reason: 'max-attempts', attempts: 2 });
    expect(byType.Again!.error).toMatch(/RetryRequested/);
  });

  it('sends from a handler carry the conversation on, unless the message says otherwise', async () => {
    const transport = track(new MemoryTransport());
    const [first, second] = [unique('q'), unique('q')];
    const seen: DeliveredMessage[] = [];
    transport.consume(
      { queue: first },
      {
        Start: async (_m, ctx) => {
          await ctx.send(second, [
            { type: 'Next', data: {} },
            { type: 'Next', data: {}, correlationId: 'own-conversation', causationId: 'own-cause' },
          ]);
        },
      },
      quiet,
    );
    transport.consume({ queue: second }, { Next: (m) => void seen.push(m) }, quiet);
    const [start] = await transport.send(first, { type: 'Start', data: {}, correlationId: 'conv-1' });
    await eventually(() => expect(seen).toHaveLength(2));
    expect(seen.map((m) => [m.correlationId, m.causationId])).toEqual([
      ['conv-1', start!.id],
      ['own-conversation', 'own-cause'],
    ]);
  });

  it('a listener or logger that throws does not break the consumer', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    let n = 0;
    const consumer = transport.consume(
      { queue },
      { N: () => { if (n++ === 0) throw new Error('once'); } },
      {
        onEvent: () => {
          throw new Error('listener bug');
        },
        logger: { warn: () => { throw new Error('logger bug'); }, error: () => { throw new Error('logger bug'); } },
        failurePolicy: { retryDelayMs: 1 },
      },
    );
    await transport.send(queue, { type: 'N', data: {} });
    await eventually(() => expect(n).toBe(2));
    expect(consumer.status).toBe('running');
  });

  it('refuses bad options at consume, before anything starts', () => {
    const transport = track(new MemoryTransport());
    const bad: [unknown, RegExp][] = [
      [{ concurrency: 0 }, /options.concurrency/],
      [{ concurrency: 1.5 }, /options.concurrency/],
      [{ concurrency: 8, prefetch: 4 }, /options.prefetch: is 4, below concurrency 8/],
      [{ visibilityTimeoutMs: 5 }, /options.visibilityTimeoutMs/],
      [{ unhandled: 'drop' }, /options.unhandled/],
      [{ failurePolicy: { onFailure: 'stop' } }, /onFailure must be 'dead-letter'/],
      [{ failurePolicy: { jitter: 2 } }, /jitter must be a number from 0 to 1/],
      [{ failurePolicy: { maxAttempts: 0 } }, /maxAttempts must be a positive integer/],
      [{ schemas: {} }, /options.schemas/],
      [{ logger: { warn: 1 } }, /options.logger/],
    ];
    for (const [options, reason] of bad) {
      expect(() => transport.consume({ queue: 'q' }, { N: () => {} }, options as never)).toThrow(InvalidArgumentError);
      expect(() => transport.consume({ queue: 'q' }, { N: () => {} }, options as never)).toThrow(reason);
    }
    expect(() => transport.consume({ queue: 'bad name' }, {})).toThrow(/source.queue/);
    expect(() => transport.consume({ topic: 't' } as never, {})).toThrow(/source.group/);
    expect(() => transport.consume({ queue: 'q' }, { N: 'not a function' } as never)).toThrow(/handlers.N: must be a function/);
  });

  it('stops right after consume (before it is ready), and a stopped consumer is stopped', async () => {
    const transport = track(new MemoryTransport());
    const consumer = transport.consume({ queue: unique('q') }, { N: () => {} }, quiet);
    await consumer.stop();
    expect(consumer.status).toBe('stopped');
    await expect(consumer.done).resolves.toBeUndefined();
    await consumer.stop();
  });

  it('stop: a handler past drainMs sees its signal abort and its message goes back; sends during the drain still go out', async () => {
    const storage = new MemoryTransportStorage();
    const transport = track(new MemoryTransport({ storage }));
    const [queue, out] = [unique('q'), unique('q')];
    let aborted = false;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const consumer = transport.consume(
      { queue },
      {
        Long: async (_m, ctx) => {
          started();
          await ctx.send(out, { type: 'Progress', data: {} });
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          aborted = true;
        },
      },
      quiet,
    );
    await transport.send(queue, { type: 'Long', data: {} });
    await running;
    const closing = transport.close();
    await expect(transport.send(queue, { type: 'Late', data: {} })).rejects.toBeInstanceOf(TransportClosedError);
    await consumer.stop({ drainMs: 50 });
    await closing;
    expect(aborted).toBe(true);
    expect(storage.depth({ queue })).toBe(1);
    expect(storage.depth({ queue: out })).toBe(1);
    // Released, not failed: the next consumer gets it as a first attempt.
    const next = track(new MemoryTransport({ storage }));
    const attempts: number[] = [];
    next.consume({ queue }, { Long: (m) => void attempts.push(m.attempt) }, quiet);
    await eventually(() => expect(attempts).toEqual([1]));
  });

  it('an undecodable raw message is dead-lettered with its bytes and reason, and the consumer goes on', async () => {
    const transport = track(new MemoryTransport());
    const queue = unique('q');
    const seen: string[] = [];
    transport.consume({ queue }, { N: (m) => void seen.push(m.type) }, quiet);
    transport.injectRaw({ queue }, { 'content-type': 'text/plain' }, 'hello');
    await transport.send(queue, { type: 'N', data: {} });
    await eventually(() => expect(seen).toEqual(['N']));
    await eventually(async () => expect(await transport.deadLetters.list({ consumer: queue })).toHaveLength(1));
    const [dead] = await transport.deadLetters.list({ consumer: queue });
    expect(dead).toMatchObject({ reason: 'undecodable', message: null, raw: { headers: { 'content-type': 'text/plain' }, body: 'hello' }, attempts: 1 });
    expect(dead!.error).toMatch(/^InvalidMessageError: Invalid message: not a CloudEvent/);
  });

  it('a dead-letter or retry answered DeliveryLostError (the lease ran out) is reported, the message left to its new holder, and the consumer goes on with its prefetch slot free', async () => {
    const { transport, faults } = faulty();
    const queue = unique('q');
    const { events, onEvent } = recorder();
    const seen: number[] = [];
    const consumer = transport.consume<{ type: 'N'; data: { n: number } }>(
      { queue },
      {
        N: (m, ctx) => {
          seen.push(m.data.n);
          if (m.data.n === 1) ctx.deadLetter('poison');
          if (m.data.n === 2) ctx.retry({ delayMs: 0 });
        },
      },
      { ...quiet, onEvent, prefetch: 1 },
    );
    faults.fail('deadLetter', new DeliveryLostError('memory', null, 'dead-lettering'));
    faults.fail('retry', new DeliveryLostError('memory', null, 'retrying'));
    await transport.send(queue, [1, 2, 3].map((n) => ({ type: 'N' as const, data: { n } })));
    // With prefetch 1, message 3 is handled only if the lost ones gave their slot back.
    await eventually(() => expect(seen).toContain(3));
    expect(seen.slice(0, 3)).toEqual([1, 2, 3]);
    expect(consumer.status).toBe('running');
    const lost = events.filter((e) => e.type === 'error');
    expect(lost).toHaveLength(2);
    expect(lost.every((e) => e.type === 'error' && e.error instanceof DeliveryLostError && !e.willRetry)).toBe(true);
    expect(events.some((e) => e.type === 'dead-lettered')).toBe(false);
    expect(await transport.deadLetters.list()).toEqual([]);
  });
});
