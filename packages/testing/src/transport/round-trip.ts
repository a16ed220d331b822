/**
 * Send and publish, then consume: every envelope field arrives as sent (unicode and nested JSON
 * included), defaults are filled in, the first delivery is attempt 1 and names its destination.
 */
import { randomUUID } from 'node:crypto';
import type { DeliveredMessage, Event } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, ISO_TIME, pings, recorder, type Ping, uniqueName } from './fixtures.js';

type Rich = Event<'CustomerRegistered', unknown>;

const richData = {
  name: 'Zoë Ångström-Müller',
  greeting: 'Grüße, 世界 🎉 — “quotes” \u200b',
  escapes: 'line\nbreak\ttab "double" \\back\\slash',
  nested: { list: [1, 2.5, -3, null, true, false, { deep: [['x'], { y: 'z' }] }], empty: {}, emptyList: [] },
  big: 2 ** 52,
  small: 1e-7,
};

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export function roundTripTests(ctx: SuiteContext): void {
  describe('round trip', () => {
    it('send → consume on a queue: id, type, schemaVersion, time, source, correlation, causation, subject, partition key, metadata and data survive; attempt 1; destination the queue', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Rich>();
      const consumer = ctx.consume<Rich>(transport, { queue }, { CustomerRegistered: (m) => void seen.deliveries.push(m) }, consumerOptions());
      await consumer.ready;
      const message = {
        id: randomUUID(),
        type: 'CustomerRegistered' as const,
        schemaVersion: 3,
        correlationId: randomUUID(),
        causationId: randomUUID(),
        subject: 'customer-42',
        partitionKey: 'customer-42',
        metadata: { traceparent, tenantId: 'tenant-a', userId: 'user-7', custom: { nested: [1, 'two', { three: 3 }] }, 'x-ümlaut': 'ja' },
        data: richData,
      };
      const before = Date.now();
      const sent = await transport.send(queue, message);
      const after = Date.now();
      expect(sent).toEqual([{ id: message.id, deliverAt: null }]);
      await eventually(() => expect(seen.deliveries).toHaveLength(1), ctx.scaled(10_000));
      const got = seen.deliveries[0]!;
      expect(got.id).toBe(message.id);
      expect(got.type).toBe('CustomerRegistered');
      expect(got.schemaVersion).toBe(3);
      expect(got.correlationId).toBe(message.correlationId);
      expect(got.causationId).toBe(message.causationId);
      expect(got.subject).toBe('customer-42');
      expect(got.partitionKey).toBe('customer-42');
      expect(got.metadata).toEqual(message.metadata);
      expect(got.data).toEqual(JSON.parse(JSON.stringify(richData)));
      expect(got.time).toMatch(ISO_TIME);
      expect(Date.parse(got.time)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(got.time)).toBeLessThanOrEqual(after + 1);
      expect(typeof got.source).toBe('string');
      expect(got.source.length).toBeGreaterThan(0);
      expect(got.attempt).toBe(1);
      expect(got.destination).toEqual({ kind: 'queue', name: queue });
    });

    it('defaults: a generated UUID id, schemaVersion 1, correlation = own id, no causation, subject or key, empty metadata', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void seen.deliveries.push(m) }, consumerOptions());
      await consumer.ready;
      const [sent] = await transport.send(queue, { type: 'Ping', data: { n: 1 } });
      expect(sent!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(sent!.deliverAt).toBeNull();
      await eventually(() => expect(seen.deliveries).toHaveLength(1), ctx.scaled(10_000));
      const got = seen.deliveries[0]!;
      expect(got).toMatchObject({
        id: sent!.id,
        type: 'Ping',
        data: { n: 1 },
        schemaVersion: 1,
        correlationId: sent!.id,
        causationId: null,
        subject: null,
        partitionKey: null,
        attempt: 1,
      });
      expect(got.metadata).toEqual({});
    });

    it('a batch: one id per message in order, every message delivered once', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const seen = recorder<Ping>();
      const consumer = ctx.consume<Ping>(transport, { queue }, { Ping: (m) => void seen.deliveries.push(m) }, consumerOptions());
      await consumer.ready;
      const sent = await transport.send(queue, pings(25));
      expect(sent).toHaveLength(25);
      expect(new Set(sent.map((s) => s.id)).size).toBe(25);
      await eventually(() => expect(seen.deliveries).toHaveLength(25), ctx.scaled(10_000));
      const byId = new Map(seen.deliveries.map((d) => [d.id, d.data.n]));
      expect(sent.map((s) => byId.get(s.id))).toEqual(Array.from({ length: 25 }, (_, n) => n));
    });

    it('publish → consume through a group: the envelope survives, destination the topic', async () => {
      const { transport } = await ctx.create();
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const seen = recorder<Rich>();
      const consumer = ctx.consume<Rich>(transport, { topic, group }, { CustomerRegistered: (m) => void seen.deliveries.push(m) }, consumerOptions());
      await consumer.ready;
      const message = {
        id: randomUUID(),
        type: 'CustomerRegistered' as const,
        correlationId: randomUUID(),
        subject: 'customer-43',
        metadata: { traceparent },
        data: richData,
      };
      await transport.publish(topic, message);
      await eventually(() => expect(seen.deliveries).toHaveLength(1), ctx.scaled(10_000));
      const got: DeliveredMessage<Rich> = seen.deliveries[0]!;
      expect(got).toMatchObject({ id: message.id, correlationId: message.correlationId, subject: 'customer-43', causationId: null, attempt: 1 });
      expect(got.metadata).toEqual({ traceparent });
      expect(got.data).toEqual(JSON.parse(JSON.stringify(richData)));
      expect(got.destination).toEqual({ kind: 'topic', name: topic });
    });
  });
}
