/**
 * Bad input on the consuming side goes to the dead letters with its reason, never crashes the
 * consumer and never vanishes: a type without a handler ('unknown-type', or acked and skipped
 * with `unhandled: 'ack'`), data failing its schema ('invalid-schema'), bytes that are not a
 * CloudEvent ('undecodable', where the transport can put raw bytes on its wire).
 */
import { SchemaRegistry, type Event } from '@eventloom/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, pings, sleep, type Ping, uniqueName } from './fixtures.js';

type OrderPlaced = Event<'OrderPlaced', { orderId: string; total: number; currency?: string }>;

/** A tiny Standard Schema by hand, so the suite needs no validation library (zod 4 implements the same interface). */
function objectSchema(fields: Record<string, 'string' | 'number'>): StandardSchemaV1<Record<string, unknown>> {
  return {
    '~standard': {
      version: 1,
      vendor: 'eventloom-test',
      validate(value) {
        if (value === null || typeof value !== 'object') return { issues: [{ message: 'expected an object' }] };
        const issues: StandardSchemaV1.Issue[] = [];
        for (const [key, type] of Object.entries(fields)) {
          if (typeof (value as Record<string, unknown>)[key] !== type) issues.push({ message: `expected ${type}`, path: [key] });
        }
        return issues.length ? { issues } : { value: value as Record<string, unknown> };
      },
    },
  };
}

export function badMessageTests(ctx: SuiteContext): void {
  describe('bad messages', () => {
    it("a type without a handler: dead-lettered as 'unknown-type'; the consumer goes on", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const handled: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void handled.push(m.data.n) }, consumerOptions());
      await consumer.ready;
      const [unknown] = await transport.send(queue, { type: 'NobodyHandlesThis', data: { x: 1 } });
      await transport.send(queue, pings(2));
      await eventually(async () => {
        const dead = await transport.deadLetters.list({ consumer: queue });
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ reason: 'unknown-type', attempts: 1, message: { id: unknown!.id, type: 'NobodyHandlesThis', data: { x: 1 } } });
        expect(dead[0]!.error).toContain('NobodyHandlesThis');
      }, ctx.scaled(10_000));
      await eventually(() => expect([...handled].sort()).toEqual([0, 1]), ctx.scaled(10_000));
      expect(consumer.status).toBe('running');
    });

    it("unhandled: 'ack' acknowledges a type without a handler: not dead-lettered, not delivered again", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const handled: number[] = [];
      const options = consumerOptions({ unhandled: 'ack', visibilityTimeoutMs: 500 });
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void handled.push(m.data.n) }, options);
      await consumer.ready;
      // One key: the Ping is handled after the skipped message was dealt with.
      await transport.send(queue, [
        { type: 'Skipped', data: {}, partitionKey: 'k' },
        { type: 'Ping', data: { n: 1 }, partitionKey: 'k' },
      ]);
      await eventually(() => expect(handled).toEqual([1]), ctx.scaled(10_000));
      await consumer.stop();
      // Past the visibility timeout: a message left unacked would come back to the next consumer.
      await sleep(ctx.scaled(800));
      const late: string[] = [];
      const next = ctx.consume<Event<'Skipped', unknown>>(transport, { queue }, { Skipped: (m) => void late.push(m.id) }, options);
      await next.ready;
      await sleep(ctx.scaled(500));
      expect(late).toEqual([]);
      expect(await transport.deadLetters.list({ consumer: queue })).toEqual([]);
    });

    it("data failing its schema: dead-lettered as 'invalid-schema' naming the field; valid data is handled, upcast to the latest version", async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const schemas = new SchemaRegistry()
        .register('OrderPlaced', 1, objectSchema({ orderId: 'string', total: 'number' }))
        .register('OrderPlaced', 2, objectSchema({ orderId: 'string', total: 'number', currency: 'string' }))
        .upcaster<{ orderId: string; total: number }, { orderId: string; total: number; currency: string }>({
          type: 'OrderPlaced',
          fromVersion: 1,
          upcast: (data) => ({ ...data, currency: 'EUR' }),
        });
      const handled: { data: OrderPlaced['data']; schemaVersion: number }[] = [];
      const consumer = ctx.consume<OrderPlaced>(
        transport,
        { queue },
        { OrderPlaced: (m) => void handled.push({ data: m.data, schemaVersion: m.schemaVersion }) },
        consumerOptions({ schemas }),
      );
      await consumer.ready;
      const [bad] = await transport.send(queue, { type: 'OrderPlaced', schemaVersion: 1, data: { orderId: 42 as unknown as string, total: 10 } });
      await transport.send(queue, [
        { type: 'OrderPlaced', schemaVersion: 1, data: { orderId: 'o-1', total: 10 } },
        { type: 'OrderPlaced', schemaVersion: 2, data: { orderId: 'o-2', total: 20, currency: 'USD' } },
      ]);
      await eventually(async () => {
        const dead = await transport.deadLetters.list({ consumer: queue });
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ reason: 'invalid-schema', message: { id: bad!.id, data: { orderId: 42, total: 10 } } });
        expect(dead[0]!.error).toContain('orderId');
      }, ctx.scaled(10_000));
      await eventually(() => expect(handled).toHaveLength(2), ctx.scaled(10_000));
      expect(handled.sort((a, b) => a.data.orderId.localeCompare(b.data.orderId))).toEqual([
        { data: { orderId: 'o-1', total: 10, currency: 'EUR' }, schemaVersion: 2 },
        { data: { orderId: 'o-2', total: 20, currency: 'USD' }, schemaVersion: 2 },
      ]);
    });

    it("bytes that are not a CloudEvent: dead-lettered as 'undecodable' with the raw bytes; the consumer goes on", async (test) => {
      const made = await ctx.create();
      if (!made.injectRaw) return test.skip('the transport cannot put raw bytes on its wire (no injectRaw)');
      const { transport } = made;
      const queue = uniqueName('q');
      const handled: number[] = [];
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void handled.push(m.data.n) }, consumerOptions());
      await consumer.ready;
      const encoder = new TextEncoder();
      // Not JSON; then JSON without any CloudEvents attribute.
      await made.injectRaw({ queue }, { 'content-type': 'application/json' }, encoder.encode('{"not json'));
      await made.injectRaw({ queue }, { 'content-type': 'application/json', 'x-foreign': 'yes' }, encoder.encode('{"hello":"world"}'));
      await transport.send(queue, pings(1));
      await eventually(async () => {
        const dead = await transport.deadLetters.list({ consumer: queue });
        expect(dead).toHaveLength(2);
        for (const letter of dead) {
          expect(letter.reason).toBe('undecodable');
          expect(letter.message).toBeNull();
          expect(letter.raw).not.toBeNull();
          expect(letter.error.length).toBeGreaterThan(0);
        }
        expect(dead.map((d) => d.raw!.body).sort()).toEqual(['{"hello":"world"}', '{"not json']);
      }, ctx.scaled(10_000));
      await eventually(() => expect(handled).toEqual([0]), ctx.scaled(10_000));
      expect(consumer.status).toBe('running');
    });
  });
}
