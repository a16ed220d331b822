/** Reading a delivered message's header block directly gives what the client's own parse gives. */
import { randomUUID } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { headerRecord, messageHeaders } from '../src/headers.js';
import { natsUrl } from './support.js';

describe.skipIf(!natsUrl)('messageHeaders', () => {
  it('equals headerRecord(m.headers): names as sent, values trimmed, the first of a repeated name, colons and UTF-8 in values', async () => {
    const nc = await connect({ servers: natsUrl! });
    const jsm = await jetstreamManager(nc);
    const stream = `HEADERS_${randomUUID().slice(0, 8)}`;
    const subject = `headers.${randomUUID().slice(0, 8)}`;
    try {
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.Memory, retention: RetentionPolicy.Limits });
      await jsm.consumers.add(stream, { durable_name: 'c', ack_policy: AckPolicy.Explicit });
      const js = jetstream(nc);
      const h = headers();
      h.set('ce-type', 'Order.Placed');
      h.set('Ce-Source', '  https://example.com/a:b  ');
      h.append('x-repeated', 'first');
      h.append('x-repeated', 'second');
      h.set('ce-subject', 'ünïcode – 日本');
      h.set('constructor', 'not a prototype key');
      h.set('empty', '');
      await js.publish(subject, new Uint8Array([1]), { headers: h, msgID: randomUUID() });
      await js.publish(subject, new Uint8Array([2]));
      const consumer = await js.consumers.get(stream, 'c');
      const seen: Record<string, string>[] = [];
      const batch = await consumer.fetch({ max_messages: 2, expires: 2_000 });
      for await (const m of batch) {
        const direct = messageHeaders(m);
        expect(direct).toEqual(headerRecord(m.headers));
        seen.push(direct);
        m.ack();
      }
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ 'ce-type': 'Order.Placed', 'Ce-Source': 'https://example.com/a:b', 'x-repeated': 'first', 'ce-subject': 'ünïcode – 日本', constructor: 'not a prototype key' });
      expect(seen[1]).toEqual({});
    } finally {
      await jsm.streams.delete(stream).catch(() => false);
      await nc.close();
    }
  });
});
