/**
 * Interoperability with a plain NATS client that knows nothing of Eventloom: it finds a valid
 * CloudEvent in what the transport published (headers mapped onto the official SDK's HTTP
 * binding, binary mode), and a CloudEvent it publishes on the documented subject is consumed.
 */
import { randomUUID } from 'node:crypto';
import type { DeliveredMessage, Transport } from '@eventloom/core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { deleteStreams, eventually, natsUrl, uniquePrefix } from './support.js';

describe.skipIf(!natsUrl)('a plain NATS client and the transport', () => {
  const servers = natsUrl!;
  let prefix: string;
  let transport: Transport;
  let nc: NatsConnection;

  beforeEach(async () => {
    prefix = uniquePrefix();
    transport = await openNatsTransport({ servers, prefix, source: 'plain-client-test' });
    nc = await connect({ servers });
  });
  afterEach(async () => {
    await transport.close();
    await nc.close();
    await deleteStreams(servers, prefix);
  });

  it('reads what the transport sent as a valid CloudEvent (binary mode, the SDK parses it)', async () => {
    const queue = `orders.place-${randomUUID().slice(0, 8)}`;
    const [sent] = await transport.send(queue, {
      type: 'PlaceOrder',
      data: { orderId: 'o-1', note: 'ünïcødé ✓', lines: [{ sku: 'a', qty: 2 }] },
      subject: 'order-o-1',
      partitionKey: 'o-1',
      correlationId: '0190a4a4-3c37-7a55-8f4e-4f6f7f7a7a7a',
      metadata: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tenant: 'acme' },
    });
    const jsm = await jetstreamManager(nc);
    // The documented mapping: stream <prefix>_q_<queue with '.' as '_d'>.
    const stream = `${prefix}_q_${queue.replace(/_/g, '__').replace(/\./g, '_d')}`;
    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(1);
    const stored = await jsm.streams.getMessage(stream, { seq: info.state.first_seq });
    expect(stored).not.toBeNull();
    const headers: Record<string, string> = {};
    for (const key of stored!.header.keys()) headers[key] = stored!.header.get(key);
    expect(headers['Nats-Msg-Id'], 'the broker dedupes by the message id').toBe(sent!.id);

    const event = HTTP.toEvent({ headers, body: new TextDecoder().decode(stored!.data) }) as CloudEvent<unknown>;
    expect(event.validate()).toBe(true);
    expect(event.specversion).toBe('1.0');
    expect(event.id).toBe(sent!.id);
    expect(event.type).toBe('PlaceOrder');
    expect(event.source).toBe('plain-client-test');
    expect(event.subject).toBe('order-o-1');
    expect(event.data).toEqual({ orderId: 'o-1', note: 'ünïcødé ✓', lines: [{ sku: 'a', qty: 2 }] });
    expect(event['correlationid']).toBe('0190a4a4-3c37-7a55-8f4e-4f6f7f7a7a7a');
    expect(event['partitionkey']).toBe('o-1');
    expect(event['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(Number.isNaN(Date.parse(event.time!))).toBe(false);
  });

  it('consumes a CloudEvent a plain client published with the SDK’s binary-mode headers', async () => {
    const queue = `billing-${randomUUID().slice(0, 8)}`;
    await transport.declare([{ queue }]);
    const foreign = new CloudEvent({
      id: randomUUID(),
      type: 'ChargeCard',
      source: 'https://legacy.example.com/billing',
      subject: 'card-42',
      datacontenttype: 'application/json',
      data: { cents: 1299, currency: 'EUR' },
      correlationid: randomUUID(),
    });
    const message = HTTP.binary(foreign);
    const h = natsHeaders();
    for (const [key, value] of Object.entries(message.headers)) h.set(key, String(value));
    const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
    // The documented subject of a queue's unkeyed messages: <prefix>.q.<queue token>.u
    await jetstream(nc).publish(`${prefix}.q.${queue}.u`, body, { headers: h, msgID: foreign.id });

    type Charge = { readonly type: 'ChargeCard'; readonly data: { readonly cents: number; readonly currency: string } };
    const got: DeliveredMessage<Charge>[] = [];
    const consumer = transport.consume<Charge>({ queue }, { ChargeCard: (m) => void got.push(m) }, { logger: false });
    await consumer.ready;
    await eventually(() => got.length === 1, 10_000, 'the foreign message');
    await consumer.stop();
    const m = got[0]!;
    expect(m.id).toBe(foreign.id);
    expect(m.type).toBe('ChargeCard');
    expect(m.source).toBe('https://legacy.example.com/billing');
    expect(m.subject).toBe('card-42');
    expect(m.correlationId).toBe(foreign['correlationid']);
    expect(m.data).toEqual({ cents: 1299, currency: 'EUR' });
    expect(m.attempt).toBe(1);
    expect(await transport.deadLetters.list({ consumer: queue })).toEqual([]);
  });
});
