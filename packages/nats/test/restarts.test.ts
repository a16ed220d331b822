/**
 * The server killed (SIGKILL) and restarted 5 times while messages with several partition keys
 * are sent and consumed: nothing acknowledged is lost, per key the first handlings keep the send
 * order, and duplicates (redeliveries after lost acks) are counted. Beside the queue, in the same
 * run: a topic group with keys, delayed messages (the delay stream and its scheduler) and
 * messages that always fail (the dead-letter stream). A small run in `npm test`;
 * EVENTLOOM_SOAK=1 runs the 50,000-message one.
 */
import { randomUUID } from 'node:crypto';
import { TransportUnavailableError, type OutgoingMessage, type Transport } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { natsServerAvailable, ThrowawayNatsServer } from './throwaway-server.js';

const SOAK = process.env.EVENTLOOM_SOAK === '1';
const TOTAL = SOAK ? 50_000 : 3_000;
const KEYS = 8;
const BATCH = 100;
const RESTARTS = 5;
const TOTAL_TOPIC = SOAK ? 10_000 : 800;
const DELAYED = SOAK ? 500 : 60;
const POISON = 20;

interface Step {
  readonly type: 'Step';
  readonly data: { readonly key: string; readonly seq: number };
}
interface Later {
  readonly type: 'Later';
  readonly data: { readonly n: number };
}
interface Poison {
  readonly type: 'Poison';
  readonly data: { readonly n: number };
}
type Order = Step | Later | Poison;

/** Handled ids, and per key the seqs of first handlings in the order they came. */
class Tally {
  readonly ids = new Set<string>();
  readonly firstSeqByKey = new Map<string, number[]>();
  deliveries = 0;

  see(id: string, key: string, seq: number): void {
    this.deliveries++;
    if (this.ids.has(id)) return;
    this.ids.add(id);
    const seqs = this.firstSeqByKey.get(key) ?? [];
    seqs.push(seq);
    this.firstSeqByKey.set(key, seqs);
  }

  outOfOrder(): string[] {
    return [...this.firstSeqByKey.entries()].filter(([, seqs]) => seqs.some((s, i) => i > 0 && s <= seqs[i - 1]!)).map(([key]) => key);
  }
}

function keyed(total: number): { id: string; type: 'Step'; data: { key: string; seq: number }; partitionKey: string }[] {
  // Fixed ids, so a batch sent again after an unknown outcome is deduplicated by the broker.
  return Array.from({ length: total }, (_, i) => ({
    id: randomUUID(),
    type: 'Step' as const,
    data: { key: `k${i % KEYS}`, seq: Math.floor(i / KEYS) },
    partitionKey: `k${i % KEYS}`,
  }));
}

/** Sends in batches, again after each TransportUnavailableError (same ids); returns the retries. */
async function sendAll(send: (batch: readonly OutgoingMessage<Order>[]) => Promise<unknown>, messages: readonly OutgoingMessage<Order>[]): Promise<number> {
  let retries = 0;
  for (let i = 0; i < messages.length; i += BATCH) {
    const batch = messages.slice(i, i + BATCH);
    for (;;) {
      try {
        await send(batch);
        break;
      } catch (error) {
        if (!(error instanceof TransportUnavailableError)) throw error;
        retries++;
      }
    }
  }
  return retries;
}

describe.skipIf(!natsServerAvailable())('restarts of the NATS server during a run', () => {
  let server: ThrowawayNatsServer;
  beforeAll(async () => {
    server = await ThrowawayNatsServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(
    `${TOTAL} + ${TOTAL_TOPIC} messages, ${KEYS} keys, ${RESTARTS} restarts: nothing lost (queue, topic group, delayed), failing ones dead-lettered, per-key order kept, duplicates counted`,
    async () => {
      const options = { servers: server.url, prefix: 'restarts', unavailableAfterMs: 60_000, partitions: SOAK ? 8 : 4 };
      const sender: Transport = await openNatsTransport({ ...options, source: 'sender' });
      const receiver: Transport = await openNatsTransport({ ...options, source: 'receiver' });
      const queue = `steps-${randomUUID().slice(0, 8)}`;
      const topic = `events-${randomUUID().slice(0, 8)}`;
      const group = { topic, group: 'audit' };
      await receiver.declare([{ queue }, group]);

      const queueTally = new Tally();
      const topicTally = new Tally();
      const later = new Set<string>();
      let poisonDeliveries = 0;
      let errors = 0;
      const consumerOptions = { concurrency: 16, prefetch: 64, visibilityTimeoutMs: 3_000, failurePolicy: { maxAttempts: 2, retryDelayMs: 100 }, logger: false as const };
      const handlers = (tally: Tally) => ({
        Step: (m: { id: string; data: Step['data'] }) => tally.see(m.id, m.data.key, m.data.seq),
        Later: (m: { id: string }) => void later.add(m.id),
        Poison: () => {
          poisonDeliveries++;
          throw new Error('poison: always fails');
        },
      });
      const onEvent = (e: { type: string }): void => void (e.type === 'error' && errors++);
      const consumers = [receiver.consume<Order>({ queue }, handlers(queueTally), { ...consumerOptions, onEvent }), receiver.consume<Order>(group, handlers(topicTally), { ...consumerOptions, onEvent })];
      await Promise.all(consumers.map((c) => c.ready));

      const messages = keyed(TOTAL);
      const events = keyed(TOTAL_TOPIC);
      const delayed = Array.from({ length: DELAYED }, (_, n) => ({ id: randomUUID(), type: 'Later' as const, data: { n }, delayMs: 500 + ((n * 37) % 2_500) }));
      const poison = Array.from({ length: POISON }, (_, n) => ({ id: randomUUID(), type: 'Poison' as const, data: { n } }));
      let sendRetries = 0;
      const sending = Promise.all([
        sendAll((batch) => sender.send(queue, batch), [...messages.slice(0, TOTAL / 2), ...poison, ...messages.slice(TOTAL / 2)]).then((n) => (sendRetries += n)),
        sendAll((batch) => sender.publish(topic, batch), events).then((n) => (sendRetries += n)),
        sendAll((batch) => sender.send(queue, batch), delayed).then((n) => (sendRetries += n)),
      ]);
      const restarting = (async () => {
        for (let r = 0; r < RESTARTS; r++) {
          await new Promise((resolve) => setTimeout(resolve, SOAK ? 4_000 : 700));
          await server.restart(300 + r * 100);
        }
      })();
      await Promise.all([sending, restarting]);

      // Keyed messages go one at a time per partition (the price of per-key order across processes): generous.
      const deadline = Date.now() + (SOAK ? 900_000 : 60_000);
      const deadLetterIds = new Set<string>();
      let deadLetters = 0;
      const done = async (): Promise<boolean> => {
        if (queueTally.ids.size < TOTAL || topicTally.ids.size < TOTAL_TOPIC || later.size < DELAYED) return false;
        const listed = await receiver.deadLetters.list().catch(() => []);
        deadLetters = listed.length;
        deadLetterIds.clear();
        for (const d of listed) if (d.message) deadLetterIds.add(d.message.id);
        return deadLetterIds.size >= POISON;
      };
      while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await Promise.all(consumers.map((c) => c.stop({ drainMs: 2_000 })));
      await sender.close();
      await receiver.close();

      const lost = messages.filter((m) => !queueTally.ids.has(m.id));
      const lostEvents = events.filter((m) => !topicTally.ids.has(m.id));
      const lostDelayed = delayed.filter((m) => !later.has(m.id));
      const duplicates = queueTally.deliveries - queueTally.ids.size + topicTally.deliveries - topicTally.ids.size;
      console.info(
        `restarts: ${server.restarts}, sent ${TOTAL} to a queue + ${TOTAL_TOPIC} to a topic group + ${DELAYED} delayed + ${POISON} failing (send retries ${sendRetries}); ` +
          `handled ${queueTally.ids.size} + ${topicTally.ids.size} + ${later.size}, duplicates ${duplicates} (queue ${queueTally.deliveries - queueTally.ids.size}, topic ${topicTally.deliveries - topicTally.ids.size}), ` +
          `dead letters ${deadLetters} for ${deadLetterIds.size} messages (${poisonDeliveries} failing deliveries), consumer errors ${errors}`,
      );
      expect(server.restarts).toBe(RESTARTS);
      expect(lost.length, 'acknowledged messages never handled (queue)').toBe(0);
      expect(lostEvents.length, 'acknowledged messages never handled (topic group)').toBe(0);
      expect(lostDelayed.length, 'delayed messages never handled').toBe(0);
      expect(deadLetterIds.size, 'failing messages dead-lettered').toBe(POISON);
      expect(deadLetters, 'dead letters stored (once per message)').toBe(POISON);
      expect(queueTally.outOfOrder(), 'keys whose first handlings left the send order (queue)').toEqual([]);
      expect(topicTally.outOfOrder(), 'keys whose first handlings left the send order (topic group)').toEqual([]);
      for (const seqs of queueTally.firstSeqByKey.values()) expect(seqs.length).toBe(TOTAL / KEYS);
      for (const seqs of topicTally.firstSeqByKey.values()) expect(seqs.length).toBe(TOTAL_TOPIC / KEYS);
    },
    SOAK ? 1_200_000 : 120_000,
  );
});
