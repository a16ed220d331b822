/**
 * The publish frames the driver writes itself are byte for byte amqplib's for the same publish;
 * what it does not handle is left to amqplib (null); on the pinned amqplib the direct way is
 * taken, and what it sends a plain client reads with the properties amqplib's way gives.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import amqp, { type Options } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@eventloom/core';
import { RABBITMQ, serviceOrSkip } from '@eventloom/testing';
import { directPublisher } from '../src/direct-publish.js';
import { encodePublish } from '../src/frames.js';
import { encodeForAmqp } from '../src/wire.js';
import { deleteAll, unique } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);

// amqplib's own encoder, which its package exports do not name: loaded by path.
const require = createRequire(import.meta.url);
const lib = dirname(require.resolve('amqplib'));
const defs = require(join(lib, 'lib', 'defs.js')) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: unknown): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: unknown): Buffer;
};
const args = require(join(lib, 'lib', 'api_args.js')) as { publish(exchange: string, routingKey: string, options: Options.Publish): unknown };
const frame = require(join(lib, 'lib', 'frame.js')) as { makeBodyFrame(channel: number, payload: Buffer): Buffer };

/** What amqplib's `ConfirmChannel.publish` hands its write buffer, as one buffer. */
function amqplibFrames(channel: number, exchange: string, routingKey: string, content: Buffer, properties: Options.Publish): Buffer {
  const fields = args.publish(exchange, routingKey, properties);
  const parts = [defs.encodeMethod(defs.BasicPublish, channel, fields), defs.encodeProperties(defs.BasicProperties, channel, content.length, fields)];
  if (content.length > 0) parts.push(frame.makeBodyFrame(channel, content));
  return Buffer.concat(parts);
}

const FRAME_MAX = 131_072;

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: '0193a7c4-0000-7000-8000-000000000001',
    type: 'OrderPlaced',
    data: { orderId: 'o-1', note: 'café ✓' },
    schemaVersion: 1,
    time: '2026-12-01T15:30:00.123Z',
    source: 'orders-service',
    correlationId: '0193a7c4-0000-7000-8000-000000000001',
    causationId: null,
    subject: null,
    partitionKey: null,
    metadata: {},
    ...overrides,
  };
}

describe('publish frames written by the driver', () => {
  const cases: [string, string, string, Buffer, Options.Publish][] = [
    ['a binary-mode message', '', 'orders', ...payload(encodeForAmqp({ envelope: envelope(), deliverAt: null }))],
    [
      'with subject, causation, partition key, trace and metadata',
      'topic-x',
      'p.3',
      ...payload(
        encodeForAmqp({
          envelope: envelope({ subject: 'order-ü', causationId: 'c-1', partitionKey: 'key/ü 1', metadata: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tenantId: 't', x: [1, { y: 'z' }] } }),
          deliverAt: null,
        }),
      ),
    ],
    ['structured mode', '', 'q', ...payload(encodeForAmqp({ envelope: envelope({ partitionKey: 'k' }), deliverAt: null }, 0, 'structured'))],
    [
      'every number width, booleans, null, a double, unicode keys, inherited and null properties',
      'ex',
      'rk',
      Buffer.from('{}'),
      {
        persistent: true,
        mandatory: true,
        headers: { b: 1, nb: -128, s: 300, ns: -0x8000, i: 70_000, ni: -0x80000000, l: Date.now(), nl: -(2 ** 40), d: 1.5, t: true, f: false, n: null, u: undefined, 'ключ ✓': 'значение' },
        contentEncoding: 'identity',
        correlationId: 'corr',
        appId: 'app',
        timestamp: 1_764_000_000,
        type: 't',
        messageId: 'm',
      },
    ],
    ['an empty body, no headers, not persistent', '', 'q', Buffer.alloc(0), { persistent: false }],
    ['deliveryMode given as a number', '', 'q', Buffer.from('x'), { deliveryMode: 2 }],
    ['deliveryMode true, mandatory 1, null strings and headers', '', 'q', Buffer.from('x'), { deliveryMode: true, mandatory: 1 as unknown as boolean, contentType: null as unknown as string, headers: null } as Options.Publish],
    ['properties inherited from a prototype', 'x', 'rk', Buffer.from('y'), Object.create({ persistent: true, messageId: 'from-proto', headers: { a: 'b' } }) as Options.Publish],
    ['a large body within one frame', '', 'q', Buffer.alloc(100_000, 7), { persistent: true, contentType: 'application/json' }],
  ];
  it.each(cases)('%s: the bytes amqplib writes', (_name, exchange, routingKey, content, properties) => {
    const ours = encodePublish(5, FRAME_MAX, exchange, routingKey, content, properties);
    expect(ours).not.toBeNull();
    expect(ours!.equals(amqplibFrames(5, exchange, routingKey, content, properties))).toBe(true);
  });

  it('leaves to amqplib what it does not write itself', () => {
    const body = Buffer.from('{}');
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { headers: { nested: { a: 1 } } })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { headers: { list: [1] } })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { headers: { bytes: Buffer.from('x') } })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { headers: { huge: 2 ** 60 } })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { headers: { big: 'x'.repeat(20_000) } })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { priority: 1 })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { expiration: 1000 })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { messageId: 'é'.repeat(200) })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, 'x'.repeat(256), 'q', body, {})).toBeNull();
    expect(encodePublish(1, 4096, '', 'q', Buffer.alloc(5000), {})).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { replyTo: 'r' })).toBeNull();
    expect(encodePublish(1, FRAME_MAX, '', 'q', body, { CC: 'x' })).toBeNull();
  });

  describe.skipIf(!url)('on the broker', () => {
    const queues: string[] = [];
    afterEach(async () => deleteAll(url!, queues.splice(0), []));

    it('publishes through the direct way on the pinned amqplib, and a plain client reads the same message as from amqplib', async () => {
      const queue = unique('frames');
      queues.push(queue);
      const connection = await amqp.connect(url!);
      try {
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        const direct = directPublisher(channel);
        expect(direct).not.toBeNull();
        const [content, properties] = payload(
          encodeForAmqp({ envelope: envelope({ subject: 's', partitionKey: 'k', metadata: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } }), deliverAt: null }),
        );
        const confirms: unknown[] = [];
        // Interleaved with amqplib's own publishes, so the confirm callbacks must stay matched to their publishes.
        for (let i = 0; i < 3; i++) {
          channel.publish('', queue, content, properties, (error: unknown) => confirms.push(['amqplib', i, error]));
          expect(direct!('', queue, content, properties, (error: unknown) => confirms.push(['direct', i, error]))).not.toBeNull();
        }
        await channel.waitForConfirms();
        expect(confirms).toEqual([0, 1, 2].flatMap((i) => [['amqplib', i, null], ['direct', i, null]]));
        const reader = await connection.createChannel();
        const got = [];
        for (let i = 0; i < 6; i++) {
          const message = await reader.get(queue, { noAck: true });
          if (message === false) throw new Error(`message ${i} missing`);
          got.push({ properties: message.properties, content: message.content.toString('utf8') });
        }
        for (let i = 1; i < 6; i++) expect(got[i]).toEqual(got[0]);
        expect(got[0]!.properties.headers!['ce-id']).toBe(properties.messageId);
        await channel.close();
        expect(() => direct!('', queue, content, properties, () => undefined)).toThrow(/closed/i);
      } finally {
        await connection.close();
      }
    });
  });
});

function payload(p: { content: Buffer; properties: Options.Publish }): [Buffer, Options.Publish] {
  return [p.content, p.properties];
}
