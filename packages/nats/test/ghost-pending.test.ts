/**
 * The state a kill -9 of nats-server 2.9 left a partition consumer in during the restart test
 * (see src/ghost-pending.ts), made on purpose: the consumer's state from while a message was out
 * is put back while the stream keeps that message's removal. Without the repair the partition delivers
 * nothing more (num_ack_pending stays 1); with it, the rest of the key is handled in order.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ConsumeSource, Transport } from '@eventloom/core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { consumerNames, partitionOf, sourceStream } from '../src/names.js';
import { natsServerAvailable, ThrowawayNatsServer } from './throwaway-server.js';

const PARTITIONS = 2;
const KEY = 'order-7';

interface Step {
  readonly type: 'Step';
  readonly data: { readonly n: number };
}

describe.skipIf(!natsServerAvailable())('a partition consumer whose pending message is gone after a restart', () => {
  let server: ThrowawayNatsServer;
  beforeAll(async () => {
    server = await ThrowawayNatsServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['a queue', (name: string): ConsumeSource => ({ queue: name })],
    ['a topic group', (name: string): ConsumeSource => ({ topic: name, group: 'billing' })],
  ])('%s: the ghost is acked away and the key goes on in order', async (_label, sourceOf) => {
    const prefix = `ghost-${randomUUID().slice(0, 8)}`;
    const source = sourceOf(`steps-${randomUUID().slice(0, 8)}`);
    const names = sourceStream(prefix, source);
    const durable = consumerNames(source, PARTITIONS).partitions[partitionOf(KEY, PARTITIONS)]!;
    const options = { servers: server.url, prefix, partitions: PARTITIONS, unavailableAfterMs: 20_000 };

    const sender: Transport = await openNatsTransport(options);
    await sender.declare([source]);
    const raw = await connect({ servers: server.url });
    const jsm = await jetstreamManager(raw);
    const js = jetstream(raw);
    // A message before the key's that stays stored (a consumer of its own never acks it): the
    // server forgets pending entries below the stream's first sequence by itself.
    await jsm.consumers.add(names.stream, { durable_name: 'holder', ack_policy: AckPolicy.Explicit, filter_subject: `${names.subjects.slice(0, -1)}keep` });
    await js.publish(`${names.subjects.slice(0, -1)}keep`, new Uint8Array([1]));
    const steps = Array.from({ length: 4 }, (_, n) => ({ id: randomUUID(), type: 'Step' as const, data: { n }, partitionKey: KEY }));
    const send = 'queue' in source ? sender.send<Step>(source.queue, steps) : sender.publish<Step>(source.topic, steps);
    await send;

    // The first step is handed out, its consumer state saved while it is pending, then the
    // message removed (what an ack does on a work-queue stream; on a topic's limits stream, age).
    const partition = await js.consumers.get(names.stream, durable);
    const first = await partition.next({ expires: 5_000 });
    expect(first?.seq).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    const saved = mkdtempSync(join(tmpdir(), 'eventloom-ghost-'));
    cpSync(server.consumerDir(names.stream, durable), saved, { recursive: true });
    expect(await jsm.streams.deleteMessage(names.stream, first!.seq, false)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    await raw.close();
    await sender.close();

    // The restart brings back the consumer as it was before; the stream keeps the removal.
    await server.kill('SIGTERM');
    rmSync(server.consumerDir(names.stream, durable), { recursive: true, force: true });
    cpSync(saved, server.consumerDir(names.stream, durable), { recursive: true });
    rmSync(saved, { recursive: true, force: true });
    await server.up();
    const check = await connect({ servers: server.url });
    const before = await (await jetstreamManager(check)).consumers.info(names.stream, durable);
    expect({ ackPending: before.num_ack_pending, pending: before.num_pending }, 'the restored ghost').toEqual({ ackPending: 1, pending: 3 });

    const receiver: Transport = await openNatsTransport(options);
    const handled: number[] = [];
    const consumer = receiver.consume<Step>(source, { Step: (m) => void handled.push(m.data.n) }, { logger: false });
    await consumer.ready;
    const deadline = Date.now() + 20_000;
    while (handled.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.stop();
    await receiver.close();
    const after = await (await jetstreamManager(check)).consumers.info(names.stream, durable);
    await check.close();

    expect(handled, 'the steps after the ghost, in order').toEqual([1, 2, 3]);
    expect({ ackPending: after.num_ack_pending, pending: after.num_pending }).toEqual({ ackPending: 0, pending: 0 });
  }, 60_000);
});
