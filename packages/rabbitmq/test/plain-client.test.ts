/**
 * What a client that knows nothing of Eventloom sees: plain amqplib reads a sent message and
 * finds a valid CloudEvent (the `ce-` headers mapped onto a structured event, parsed by the
 * official SDK); a plain publish with CloudEvents headers is consumed by Eventloom.
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredMessage, Event } from '@eventloom/core';
import { RABBITMQ, serviceOrSkip } from '@eventloom/testing';
import { eventually, Fixtures, unique } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);

type OrderPlaced = Event<'OrderPlaced', { orderId: string; total: number; note: string }>;

/** AMQP application headers `ce-x` → the structured CloudEvent's attribute `x` (percent-decoded, as the binding writes them). */
function toStructured(headers: Record<string, unknown>, contentType: string | undefined, body: Buffer): string {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-')) continue;
    const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
    event[name.slice(3)] = decodeURIComponent(text);
  }
  event.datacontenttype = contentType;
  event.data = JSON.parse(body.toString('utf8')) as unknown;
  return JSON.stringify(event);
}

describe.skipIf(!url)('a plain AMQP client', () => {
  let fx: Fixtures;
  afterEach(async () => fx?.cleanup());

  it('reads what Eventloom sent and finds a valid CloudEvent', async () => {
    fx = new Fixtures(url!);
    const { transport } = fx.make({ source: 'orders-service' });
    const queue = unique('q');
    const [sent] = await transport.send<OrderPlaced>(queue, {
      type: 'OrderPlaced',
      data: { orderId: 'o-1', total: 42.5, note: 'café, 100% ✓' },
      subject: 'order-o-1',
      metadata: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    const connection = await amqp.connect(url!);
    let event: CloudEventV1<unknown>;
    try {
      const channel = await connection.createChannel();
      const message = await channel.get(queue, { noAck: true });
      if (message === false) throw new Error(`nothing on ${queue}`);
      expect(message.properties.contentType).toBe('application/json');
      expect(message.properties.messageId).toBe(sent!.id);
      expect(message.properties.deliveryMode).toBe(2);
      const structured = toStructured(message.properties.headers ?? {}, message.properties.contentType as string, message.content);
      event = HTTP.toEvent({ headers: { 'content-type': 'application/cloudevents+json' }, body: structured }) as CloudEventV1<unknown>;
      await channel.close();
    } finally {
      await connection.close();
    }
    expect(event.specversion).toBe('1.0');
    expect(event.id).toBe(sent!.id);
    expect(event.type).toBe('OrderPlaced');
    expect(event.source).toBe('orders-service');
    expect(event.subject).toBe('order-o-1');
    expect(event.data).toEqual({ orderId: 'o-1', total: 42.5, note: 'café, 100% ✓' });
    expect((event as unknown as Record<string, unknown>).traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect((event as unknown as Record<string, unknown>).correlationid).toBe(sent!.id);
    expect(Date.parse(String(event.time))).toBeGreaterThan(Date.now() - 60_000);
  });

  it('publishes with CloudEvents headers and Eventloom consumes it', async () => {
    fx = new Fixtures(url!);
    const { transport } = fx.make();
    const queue = unique('q');
    const got: DeliveredMessage<OrderPlaced>[] = [];
    const consumer = transport.consume<OrderPlaced>({ queue }, { OrderPlaced: (m) => void got.push(m) }, { logger: false });
    await consumer.ready;
    const id = randomUUID();
    const connection = await amqp.connect(url!);
    try {
      const channel = await connection.createConfirmChannel();
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ orderId: 'o-2', total: 7, note: 'from afar' })), {
        persistent: true,
        contentType: 'application/json',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-type': 'OrderPlaced',
          'ce-source': 'https://legacy.example/orders',
          'ce-time': '2026-01-02T03:04:05.678Z',
          'ce-subject': 'order-o-2',
          // The AMQP binding's own prefix is read too.
          'cloudEvents:correlationid': 'conversation-7',
        },
      });
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close();
    }
    await eventually(() => got.length === 1);
    await consumer.stop();
    expect(got[0]).toMatchObject({
      id,
      type: 'OrderPlaced',
      source: 'https://legacy.example/orders',
      time: '2026-01-02T03:04:05.678Z',
      subject: 'order-o-2',
      correlationId: 'conversation-7',
      data: { orderId: 'o-2', total: 7, note: 'from afar' },
      attempt: 1,
    });
  });
});
