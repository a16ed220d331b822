/**
 * Dead letters: what a consumer gives up on is kept with the original envelope, the error
 * (message and stack), the attempts, first and last failure times, the consumer and the reason;
 * it can be listed with filters, read, redriven (one, by filter, all — attempts reset, removed
 * from the dead letters, handled again) and purged.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetter, Transport } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, ISO_TIME, pings, quickPolicy, recorder, sleep, type Ping, type Pong, uniqueName } from './fixtures.js';

async function deadLettersOf(transport: Transport, consumer: string, count: number, timeoutMs: number): Promise<readonly DeadLetter[]> {
  let found: readonly DeadLetter[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    found = await transport.deadLetters.list({ consumer });
    if (found.length >= count || Date.now() > deadline) return found;
    await sleep(25);
  }
}

export function deadLetterTests(ctx: SuiteContext): void {
  describe('dead letters', () => {
    it("always failing: after maxAttempts in the dead letters with the original envelope, error and stack, attempts, failure times, consumer, source, reason 'max-attempts'", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const calls: number[] = [];
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m) => {
            calls.push(m.attempt);
            throw new TypeError(`mail server down (attempt ${m.attempt})`);
          },
        },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 3, retryDelayMs: 30 }), onEvent: seen.onEvent }),
      );
      await consumer.ready;
      const message = {
        id: randomUUID(),
        type: 'Ping' as const,
        data: { n: 7, key: 'ü-🎉' },
        correlationId: randomUUID(),
        causationId: randomUUID(),
        subject: 'order-9',
        partitionKey: 'order-9',
        schemaVersion: 2,
        metadata: { tenantId: 't-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      };
      const before = Date.now();
      await transport.send(queue, message);
      const [dead] = await deadLettersOf(transport, queue, 1, ctx.scaled(10_000));
      expect(dead, 'a dead letter').toBeDefined();
      expect(calls).toEqual([1, 2, 3]);
      expect(dead!.reason).toBe('max-attempts');
      expect(dead!.consumer).toBe(queue);
      expect(dead!.source).toEqual({ queue });
      expect(dead!.attempts).toBe(3);
      expect(dead!.raw).toBeNull();
      expect(dead!.message).toMatchObject({
        id: message.id,
        type: 'Ping',
        data: message.data,
        correlationId: message.correlationId,
        causationId: message.causationId,
        subject: 'order-9',
        partitionKey: 'order-9',
        schemaVersion: 2,
        metadata: message.metadata,
      });
      expect(dead!.message!.time).toMatch(ISO_TIME);
      expect(dead!.error).toContain('TypeError');
      expect(dead!.error).toContain('mail server down (attempt 3)');
      expect(dead!.stack).toContain('mail server down (attempt 3)');
      expect(dead!.firstFailedAt).toMatch(ISO_TIME);
      expect(dead!.lastFailedAt).toMatch(ISO_TIME);
      expect(Date.parse(dead!.firstFailedAt)).toBeGreaterThanOrEqual(before - 1);
      // Two retries of at least 30 and 60 ms lie between the first and the last failure.
      expect(Date.parse(dead!.lastFailedAt) - Date.parse(dead!.firstFailedAt)).toBeGreaterThanOrEqual(85);
      expect(Date.parse(dead!.lastFailedAt)).toBeLessThanOrEqual(Date.now() + 1);
      expect(await transport.deadLetters.get(dead!.id)).toEqual(dead);
      const event = seen.events.find((e) => e.type === 'dead-lettered');
      expect(event?.type === 'dead-lettered' && event.deadLetter.id).toBe(dead!.id);
      // Parked, not redelivered: the consumer moved on.
      await sleep(ctx.scaled(200));
      expect(calls).toEqual([1, 2, 3]);
    });

    it("context.deadLetter(reason): parked at once with reason 'rejected' and the given reason in its error; the consumer goes on", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const handled: number[] = [];
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m, context) => {
            if (m.data.n === 0) return context.deadLetter('no such customer');
            handled.push(m.data.n);
          },
        },
        consumerOptions(),
      );
      await consumer.ready;
      const sent = await transport.send(queue, pings(3));
      const [dead] = await deadLettersOf(transport, queue, 1, ctx.scaled(10_000));
      expect(dead).toMatchObject({ reason: 'rejected', attempts: 1, consumer: queue, source: { queue } });
      expect(dead!.message?.id).toBe(sent[0]!.id);
      expect(dead!.error).toContain('no such customer');
      await eventually(() => expect([...handled].sort()).toEqual([1, 2]), ctx.scaled(10_000));
    });

    it("a topic group's dead letters name the group as consumer and { topic, group } as source; other groups are unaffected", async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const failing = uniqueName('g');
      const fine = uniqueName('g');
      const okIds: string[] = [];
      const consumers = [
        ctx.consume<Ping>(transport, { topic, group: failing }, { Ping: (_m, c) => c.deadLetter('not for us') }, consumerOptions()),
        ctx.consume<Ping>(transport, { topic, group: fine }, { Ping: (m) => void okIds.push(m.id) }, consumerOptions()),
      ];
      await Promise.all(consumers.map((c) => c.ready));
      const [sent] = await transport.publish(topic, pings(1));
      const [dead] = await deadLettersOf(transport, failing, 1, ctx.scaled(10_000));
      expect(dead).toMatchObject({ consumer: failing, source: { topic, group: failing }, reason: 'rejected' });
      expect(dead!.message?.id).toBe(sent!.id);
      await eventually(() => expect(okIds).toEqual([sent!.id]), ctx.scaled(10_000));
      expect(await transport.deadLetters.list({ consumer: fine })).toEqual([]);
    });

    it('list filters (ids, consumer, source, type, reason, before, limit) combine with AND, oldest first; get of an unknown id is null', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const consumer = ctx.consume<Ping | Pong>(
        transport,
        { queue },
        {
          Ping: (_m, c) => c.deadLetter('ping refused'),
          Pong: () => {
            throw new Error('pong fails');
          },
        },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 1 }), concurrency: 1 }),
      );
      await consumer.ready;
      // One key: handled (and dead-lettered) in send order, so "oldest first" is known.
      const sent = await transport.send(queue, [
        { type: 'Ping', data: { n: 0 }, partitionKey: 'one' },
        { type: 'Pong', data: { n: 1 }, partitionKey: 'one' },
        { type: 'Ping', data: { n: 2 }, partitionKey: 'one' },
        { type: 'Pong', data: { n: 3 }, partitionKey: 'one' },
      ]);
      const all = await deadLettersOf(transport, queue, 4, ctx.scaled(10_000));
      expect(all.map((d) => d.message?.id)).toEqual(sent.map((s) => s.id));
      const dl = transport.deadLetters;
      expect((await dl.list({ consumer: queue, type: 'Ping' })).map((d) => d.message?.id)).toEqual([sent[0]!.id, sent[2]!.id]);
      expect((await dl.list({ consumer: queue, reason: 'max-attempts' })).map((d) => d.message?.id)).toEqual([sent[1]!.id, sent[3]!.id]);
      expect((await dl.list({ consumer: queue, reason: 'rejected', type: 'Pong' }))).toEqual([]);
      expect((await dl.list({ source: { queue } })).map((d) => d.id)).toEqual(all.map((d) => d.id));
      expect((await dl.list({ ids: [all[3]!.id, all[1]!.id] })).map((d) => d.id)).toEqual([all[1]!.id, all[3]!.id]);
      expect((await dl.list({ consumer: queue, limit: 2 })).map((d) => d.id)).toEqual([all[0]!.id, all[1]!.id]);
      expect(await dl.list({ consumer: queue, before: '2000-01-01T00:00:00.000Z' })).toEqual([]);
      expect(await dl.list({ consumer: queue, before: new Date(Date.now() + 60_000).toISOString() })).toHaveLength(4);
      expect(await dl.list({ consumer: uniqueName('nobody') })).toEqual([]);
      expect(await dl.get(randomUUID())).toBeNull();
    });

    it('redrive one, by filter, then the rest: each handled again with attempt 1 and removed from the dead letters; nothing duplicated', async () => {
      const made = await ctx.create();
      const { transport } = made;
      const queue = uniqueName('q');
      let refusing = true;
      const handled: { id: string; attempt: number }[] = [];
      const consumer = ctx.consume<Ping | Pong>(
        transport,
        { queue },
        {
          Ping: (m, c) => (refusing ? c.deadLetter('later') : void handled.push({ id: m.id, attempt: m.attempt })),
          Pong: (m) => {
            if (refusing) throw new Error('pong fails');
            handled.push({ id: m.id, attempt: m.attempt });
          },
        },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 2 }) }),
      );
      await consumer.ready;
      const sent = await transport.send(queue, [
        { type: 'Ping', data: { n: 0 } },
        { type: 'Ping', data: { n: 1 } },
        { type: 'Pong', data: { n: 2 } },
        { type: 'Pong', data: { n: 3 } },
        { type: 'Ping', data: { n: 4 } },
      ]);
      const ids = sent.map((s) => s.id);
      const all = await deadLettersOf(transport, queue, 5, ctx.scaled(10_000));
      expect(all).toHaveLength(5);
      refusing = false;
      const dl = transport.deadLetters;
      const letterOf = (id: string) => all.find((d) => d.message?.id === id)!;

      expect(await dl.redrive({ ids: [letterOf(ids[0]!).id] })).toBe(1);
      await eventually(() => expect(handled.map((h) => h.id)).toEqual([ids[0]]), ctx.scaled(10_000));
      expect(await dl.get(letterOf(ids[0]!).id)).toBeNull();

      expect(await dl.redrive({ consumer: queue, reason: 'max-attempts' })).toBe(2);
      await eventually(() => expect(new Set(handled.map((h) => h.id))).toEqual(new Set([ids[0], ids[2], ids[3]])), ctx.scaled(10_000));

      const rest = made.isolatedDeadLetters ? await dl.redrive() : await dl.redrive({ consumer: queue });
      expect(rest).toBe(2);
      await eventually(() => expect(handled).toHaveLength(5), ctx.scaled(10_000));
      await sleep(ctx.scaled(200));
      expect(handled.map((h) => h.id).sort()).toEqual([...ids].sort());
      expect(handled.every((h) => h.attempt === 1), 'attempts reset on redrive').toBe(true);
      expect(await dl.list({ consumer: queue })).toEqual([]);
      expect(await dl.redrive({ consumer: queue })).toBe(0);
    });

    it('a redriven message that fails again is dead-lettered again after maxAttempts fresh attempts', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const attempts: number[] = [];
      const consumer = ctx.consume<Ping>(
        transport,
        { queue },
        {
          Ping: (m) => {
            attempts.push(m.attempt);
            throw new Error('still broken');
          },
        },
        consumerOptions({ failurePolicy: quickPolicy({ maxAttempts: 2 }) }),
      );
      await consumer.ready;
      await transport.send(queue, pings(1));
      await deadLettersOf(transport, queue, 1, ctx.scaled(10_000));
      expect(await transport.deadLetters.redrive({ consumer: queue })).toBe(1);
      await eventually(async () => {
        expect(attempts).toEqual([1, 2, 1, 2]);
        const again = await transport.deadLetters.list({ consumer: queue });
        expect(again).toHaveLength(1);
        expect(again[0]!.attempts).toBe(2);
      }, ctx.scaled(10_000));
    });

    it('purge deletes matching dead letters for good and returns how many', async () => {
      const made = await ctx.create();
      const { transport } = made;
      const queue = uniqueName('q');
      const consumer = ctx.consume<Ping | Pong>(
        transport,
        { queue },
        { Ping: (_m, c) => c.deadLetter('no'), Pong: (_m, c) => c.deadLetter('no') },
        consumerOptions(),
      );
      await consumer.ready;
      await transport.send(queue, [...pings(3), { type: 'Pong', data: { n: 9 } }]);
      await deadLettersOf(transport, queue, 4, ctx.scaled(10_000));
      const dl = transport.deadLetters;
      expect(await dl.purge({ consumer: queue, type: 'Pong' })).toBe(1);
      expect(await dl.list({ consumer: queue })).toHaveLength(3);
      expect(made.isolatedDeadLetters ? await dl.purge() : await dl.purge({ consumer: queue })).toBe(3);
      expect(await dl.list({ consumer: queue })).toEqual([]);
      expect(await dl.redrive({ consumer: queue })).toBe(0);
      await sleep(ctx.scaled(200));
      expect(consumer.handled).toBe(4);
    });
  });
}
