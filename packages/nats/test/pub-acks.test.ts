/** The PubAck mux on the shared server: stored and acknowledged, nobody answering, an error answer, a timeout, closing. */
import { randomUUID } from 'node:crypto';
import { JetStreamApiError, JetStreamError, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, errors, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubAcks } from '../src/pub-acks.js';
import { natsUrl } from './support.js';

describe.skipIf(!natsUrl)('PubAcks', () => {
  let nc: NatsConnection;
  const stream = `PUBACKS_${randomUUID().slice(0, 8)}`;
  const subject = `pubacks.${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl! });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Limits, max_msgs_per_subject: 3 });
  });
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  });

  it('resolves once the stream stored the message; the same Nats-Msg-Id again is acknowledged and not stored twice', async () => {
    const acks = new PubAcks(nc);
    const h = headers();
    h.set('Nats-Msg-Id', randomUUID());
    await Promise.all(Array.from({ length: 50 }, (_, i) => acks.publish(subject, new Uint8Array([i]), i === 0 ? h : headers(), 5_000)));
    await acks.publish(subject, new Uint8Array([9]), h, 5_000);
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.state.last_seq).toBe(50);
    acks.close();
  });

  it('no stream on the subject: the error the client gives (jetstream is not enabled), not a hang', async () => {
    const acks = new PubAcks(nc);
    const error = await acks.publish(`nowhere.${randomUUID()}`, new Uint8Array(), headers(), 5_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JetStreamError);
    expect((error as Error).cause).toBeInstanceOf(errors.NoRespondersError);
    acks.close();
  });

  it('an error answer is a JetStreamApiError with the server code', async () => {
    const acks = new PubAcks(nc);
    const h = headers();
    h.set('Nats-Expected-Stream', 'NOT_THIS_ONE');
    const error = await acks.publish(subject, new Uint8Array(), h, 5_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JetStreamApiError);
    expect((error as JetStreamApiError).code).toBe(10060);
    acks.close();
  });

  it('no answer in time: TimeoutError; close() fails what is still waiting', async () => {
    const acks = new PubAcks(nc);
    // A plain subscriber that never answers stands in for a server that does not reply.
    const silent = nc.subscribe(`silent.${randomUUID().slice(0, 8)}`);
    const started = Date.now();
    const late = await acks.publish(silent.getSubject(), new Uint8Array(), headers(), 300).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(errors.TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    const waiting = acks.publish(silent.getSubject(), new Uint8Array(), headers(), 60_000).catch((e: unknown) => e);
    acks.close();
    expect(await waiting).toBeInstanceOf(errors.ClosedConnectionError);
    silent.unsubscribe();
  });
});
