/** The inbox: one run per consumer and message, its record and the handler's writes committed together. */
import { randomUUID } from 'node:crypto';
import { EventloomError, inboxHandlers, type DeliveredMessage } from '@eventloom/core';
import { expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, sleep, unique, type Note } from './helpers.js';

export function inboxTests<Tx>(ctx: SuiteContext<Tx>): void {
  it('runs a message once per consumer: a redelivery is a duplicate and writes nothing', async () => {
    const f = await ctx.create();
    const consumer = unique('c');
    const message = { id: randomUUID() };
    const key = unique('effect');
    const first = await f.inbox.handle(consumer, message, async (tx) => {
      await f.write(tx, key);
      return 'done';
    });
    expect(first).toEqual({ duplicate: false, result: 'done' });
    let ranAgain = false;
    const second = await f.inbox.handle(consumer, message, async (tx) => {
      ranAgain = true;
      await f.write(tx, key);
    });
    expect(second).toEqual({ duplicate: true });
    expect(ranAgain).toBe(false);
    expect(await f.count(key)).toBe(1);
    expect(await f.inbox.has(consumer, message.id)).toBe(true);
  });

  it('keys records by consumer and message id: two consumers of one message both run', async () => {
    const f = await ctx.create();
    const message = { id: randomUUID() };
    const key = unique('effect');
    for (const consumer of [unique('email'), unique('crm')]) {
      const outcome = await f.inbox.handle(consumer, message, (tx) => f.write(tx, key));
      expect(outcome.duplicate).toBe(false);
    }
    expect(await f.count(key)).toBe(2);
  });

  it('keeps no record and no write when the handler throws, so the redelivery runs it', async () => {
    const f = await ctx.create();
    const consumer = unique('c');
    const message = { id: randomUUID() };
    const key = unique('effect');
    const boom = new Error('handler failed after writing');
    await expect(
      f.inbox.handle(consumer, message, async (tx) => {
        await f.write(tx, key);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await f.count(key)).toBe(0);
    expect(await f.inbox.has(consumer, message.id)).toBe(false);
    expect(await f.inbox.handle(consumer, message, (tx) => f.write(tx, key))).toEqual({ duplicate: false, result: undefined });
    expect(await f.count(key)).toBe(1);
  });

  it('runs concurrent deliveries of one message to one consumer once', async () => {
    const f = await ctx.create();
    const consumer = unique('c');
    const message = { id: randomUUID() };
    const key = unique('effect');
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        f.inbox.handle(consumer, message, async (tx) => {
          await f.write(tx, key);
          await sleep(20);
        }),
      ),
    );
    expect(outcomes.filter((o) => !o.duplicate)).toHaveLength(1);
    expect(await f.count(key)).toBe(1);
  });

  it('prunes records older than a time, and only those', async () => {
    const f = await ctx.create();
    const consumer = unique('c');
    const old = { id: randomUUID() };
    await f.inbox.handle(consumer, old, () => undefined);
    expect(await f.inbox.prune({ olderThan: new Date(Date.now() - 3_600_000) })).toBe(0);
    expect(await f.inbox.has(consumer, old.id)).toBe(true);
    expect(await f.inbox.prune({ olderThan: new Date(Date.now() + 60_000).toISOString() })).toBeGreaterThanOrEqual(1);
    expect(await f.inbox.has(consumer, old.id)).toBe(false);
  });

  it('refuses bad input with typed errors, recording nothing', async () => {
    const f = await ctx.create();
    const id = randomUUID();
    const cases: [string, () => Promise<unknown>][] = [
      ['empty consumer', () => f.inbox.handle('', { id }, () => undefined)],
      ['consumer not a string', () => f.inbox.handle(42 as unknown as string, { id }, () => undefined)],
      ['message without id', () => f.inbox.handle('c', {} as { id: string }, () => undefined)],
      ['NUL in the id', () => f.inbox.handle('c', { id: 'a\u0000b' }, () => undefined)],
      ['handler not a function', () => f.inbox.handle('c', { id }, 'nope' as unknown as () => void)],
      ['bad prune time', () => f.inbox.prune({ olderThan: 'yesterday-ish' })],
    ];
    for (const [what, run] of cases) {
      const error = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(EventloomError);
      expect((error as EventloomError).code, what).toBe('INVALID_ARGUMENT');
    }
    expect(await f.inbox.has('c', id)).toBe(false);
  });

  it('guards message handlers: a redelivered message is acked without running again, and tx carries the writes', async () => {
    const f = await ctx.create();
    const topic = unique('t');
    const group = unique('g');
    const key = unique('effect');
    const seen: DeliveredMessage<Note>[] = [];
    const consumer = f.transport.consume<Note>(
      { topic, group },
      inboxHandlers<Note, Tx>(f.inbox, group, {
        Noted: async (message, { tx }) => {
          seen.push(message);
          await f.write(tx, key);
        },
      }),
      { logger: false },
    );
    await consumer.ready;
    const id = randomUUID();
    await f.transport.publish(topic, { id, type: 'Noted', data: { n: 1 } });
    await f.transport.publish(topic, { id, type: 'Noted', data: { n: 1 } });
    await eventually(() => expect(consumer.handled).toBe(2));
    expect(seen).toHaveLength(1);
    expect(await f.count(key)).toBe(1);
    await consumer.stop();
  });

  it('rolls the writes back when a guarded handler asks for a retry, and keeps no record until it succeeds', async () => {
    const f = await ctx.create();
    const queue = unique('q');
    const key = unique('effect');
    let attempts = 0;
    const consumer = f.transport.consume<Note>(
      { queue },
      inboxHandlers<Note, Tx>(f.inbox, queue, {
        Noted: async (_message, context) => {
          attempts++;
          await f.write(context.tx, key);
          if (attempts === 1) context.retry({ delayMs: 10 });
        },
      }),
      { logger: false, failurePolicy: { maxAttempts: 5, retryDelayMs: 10, jitter: 0 } },
    );
    await consumer.ready;
    const [sent] = await f.transport.send(queue, { type: 'Noted', data: { n: 1 } });
    await eventually(async () => expect(await f.inbox.has(queue, sent!.id)).toBe(true));
    expect(attempts).toBe(2);
    expect(await f.count(key)).toBe(1);
    await consumer.stop();
  });
}
