/**
 * The server killed (SIGKILL) and restarted 5 times while messages with several partition keys
 * are sent and consumed: nothing acknowledged is lost, per key the first handlings keep the send
 * order, and duplicates (redeliveries after lost acks) are counted. A small run in `npm test`;
 * EVENTLOOM_SOAK=1 runs the 50,000-message one.
 */
import { randomUUID } from 'node:crypto';
import { TransportUnavailableError, type Transport } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { natsServerAvailable, ThrowawayNatsServer } from './throwaway-server.js';

const SOAK = process.env.EVENTLOOM_SOAK === '1';
const TOTAL = SOAK ? 50_000 : 3_000;
const KEYS = 8;
const BATCH = 100;
const RESTARTS = 5;

interface Order {
  readonly type: 'Step';
  readonly data: { readonly key: string; readonly seq: number };
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
    `${TOTAL} messages, ${KEYS} keys, ${RESTARTS} restarts: nothing lost, per-key order kept, duplicates counted`,
    async () => {
      const options = { servers: server.url, prefix: 'restarts', unavailableAfterMs: 60_000, partitions: SOAK ? 8 : 4 };
      const sender: Transport = await openNatsTransport({ ...options, source: 'sender' });
      const receiver: Transport = await openNatsTransport({ ...options, source: 'receiver' });
      const queue = `steps-${randomUUID().slice(0, 8)}`;
      await receiver.declare([{ queue }]);

      const handledIds = new Set<string>();
      const firstSeqByKey = new Map<string, number[]>();
      let deliveries = 0;
      let errors = 0;
      const consumer = receiver.consume<Order>(
        { queue },
        {
          Step: (m) => {
            deliveries++;
            if (handledIds.has(m.id)) return;
            handledIds.add(m.id);
            const seqs = firstSeqByKey.get(m.data.key) ?? [];
            seqs.push(m.data.seq);
            firstSeqByKey.set(m.data.key, seqs);
          },
        },
        { concurrency: 16, prefetch: 64, visibilityTimeoutMs: 3_000, logger: false, onEvent: (e) => void (e.type === 'error' && errors++) },
      );
      await consumer.ready;

      // Fixed ids, so a batch sent again after an unknown outcome is deduplicated by the broker.
      const messages = Array.from({ length: TOTAL }, (_, i) => ({
        id: randomUUID(),
        type: 'Step' as const,
        data: { key: `k${i % KEYS}`, seq: Math.floor(i / KEYS) },
        partitionKey: `k${i % KEYS}`,
      }));
      let sendRetries = 0;
      const sending = (async () => {
        for (let i = 0; i < messages.length; i += BATCH) {
          const batch = messages.slice(i, i + BATCH);
          for (;;) {
            try {
              await sender.send(queue, batch);
              break;
            } catch (error) {
              if (!(error instanceof TransportUnavailableError)) throw error;
              sendRetries++;
            }
          }
        }
      })();
      const restarting = (async () => {
        for (let r = 0; r < RESTARTS; r++) {
          await new Promise((resolve) => setTimeout(resolve, SOAK ? 4_000 : 700));
          await server.restart(300 + r * 100);
        }
      })();
      await Promise.all([sending, restarting]);

      // Keyed messages go one at a time per partition (the price of per-key order across processes): generous.
      const deadline = Date.now() + (SOAK ? 900_000 : 60_000);
      while (handledIds.size < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await consumer.stop({ drainMs: 2_000 });
      await sender.close();
      await receiver.close();

      const lost = messages.filter((m) => !handledIds.has(m.id));
      const outOfOrder = [...firstSeqByKey.entries()].filter(([, seqs]) => seqs.some((s, i) => i > 0 && s <= seqs[i - 1]!));
      console.info(
        `restarts: ${server.restarts}, sent ${TOTAL} (send retries ${sendRetries}), handled ${handledIds.size}, deliveries ${deliveries}, duplicates ${deliveries - handledIds.size}, consumer errors ${errors}`,
      );
      expect(server.restarts).toBe(RESTARTS);
      expect(lost.length, 'acknowledged messages never handled').toBe(0);
      expect(outOfOrder.map(([key]) => key), 'keys whose first handlings left the send order').toEqual([]);
      for (const seqs of firstSeqByKey.values()) expect(seqs.length).toBe(TOTAL / KEYS);
    },
    SOAK ? 1_200_000 : 120_000,
  );
});
