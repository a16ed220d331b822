/**
 * A broker restarted during a run (a throwaway node of the test's own, on spare ports:
 * the shared broker is never touched), with several partition keys: nothing lost, each key's
 * messages first handled in send order, duplicates counted — redeliveries (attempt > 1) and
 * sends repeated after a lost confirm (attempt 1). 2,000 messages with the application
 * restarted 3 times (`stop_app`/`start_app`); `EVENTLOOM_SOAK=1`: 50,000, the whole node restarted 5 times.
 * Each restart starts once a share of the messages is sent, and sending goes on through it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { RabbitMqDriver } from '../src/index.js';
import { eventually, unique } from './fixtures.js';
import { ThrowawayBroker, throwawayBrokerAvailable } from './throwaway-broker.js';

type Step = Event<'Step', { key: string; seq: number }>;

const SOAK = process.env.EVENTLOOM_SOAK === '1';
const TOTAL = SOAK ? 50_000 : 2_000;
const KEYS = 8;
const RESTARTS = SOAK ? 5 : 3;
const BATCH = SOAK ? 250 : 50;
/** Between batches: sending lasts about as long as the restarts (~5 s each), so it goes on through all of them. */
const PACE_MS = Math.round((RESTARTS * 5_000) / (TOTAL / BATCH));

describe.skipIf(!throwawayBrokerAvailable())('RabbitMQ restarted during a run', () => {
  let broker: ThrowawayBroker;
  beforeAll(async () => {
    broker = await ThrowawayBroker.start();
  }, 120_000);
  afterAll(async () => broker?.stop(), 120_000);

  it(
    `${TOTAL} messages over ${KEYS} keys, ${RESTARTS} restarts: nothing lost, per-key order kept, duplicates counted`,
    async () => {
      const options = { url: broker.url, unavailableAfterMs: 120_000, reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 500, heartbeatSeconds: 2 };
      const producer = createTransport(new RabbitMqDriver(options), { source: 'restart-test' });
      const consuming = createTransport(new RabbitMqDriver(options), { source: 'restart-test' });
      const queue = unique('restart');
      await producer.declare([{ queue }]);
      const firstSeen = new Map<string, number[]>();
      const seenIds = new Set<string>();
      let redeliveries = 0;
      let resent = 0;
      let handled = 0;
      const errors: unknown[] = [];
      const consumer = consuming.consume<Step>(
        { queue },
        {
          Step: async (m) => {
            handled++;
            // A little work, so that deliveries are in flight (unacked) when the broker goes.
            await new Promise((resolve) => setTimeout(resolve, 2));
            if (seenIds.has(m.id)) {
              if (m.attempt > 1) redeliveries++;
              else resent++;
              return;
            }
            seenIds.add(m.id);
            const list = firstSeen.get(m.data.key) ?? [];
            list.push(m.data.seq);
            firstSeen.set(m.data.key, list);
          },
        },
        { concurrency: 4, prefetch: 64, logger: false, onEvent: (e) => e.type === 'error' && errors.push(e.error) },
      );
      await consumer.ready;

      let sent = 0;
      const sending = (async () => {
        while (sent < TOTAL) {
          const batch = Array.from({ length: Math.min(BATCH, TOTAL - sent) }, (_, i) => {
            const n = sent + i;
            const key = `key-${n % KEYS}`;
            return { type: 'Step' as const, data: { key, seq: Math.floor(n / KEYS) }, partitionKey: key };
          });
          await producer.send<Step>(queue, batch);
          sent += batch.length;
          await new Promise((resolve) => setTimeout(resolve, PACE_MS));
        }
      })();
      const restarting = (async () => {
        for (let i = 0; i < RESTARTS; i++) {
          while (sent < ((i + 1) * TOTAL) / (RESTARTS + 1)) await new Promise((resolve) => setTimeout(resolve, 10));
          const t0 = Date.now();
          if (SOAK) await broker.restartNode();
          else await broker.restartApp();
          if (process.env.EVENTLOOM_DEBUG_RESTART) console.log(`restart ${i + 1} took ${Date.now() - t0} ms; sent ${sent}, handled ${seenIds.size}`);
        }
      })();
      await Promise.all([sending, restarting]);
      await eventually(() => seenIds.size >= TOTAL, SOAK ? 600_000 : 60_000, `all ${TOTAL} messages handled (have ${seenIds.size})`);
      await consumer.stop();
      await producer.close();
      await consuming.close();

      expect(seenIds.size).toBe(TOTAL);
      for (let k = 0; k < KEYS; k++) {
        const seqs = firstSeen.get(`key-${k}`) ?? [];
        expect(seqs, `key-${k} in order`).toEqual(Array.from({ length: TOTAL / KEYS }, (_, i) => i));
      }
      console.log(
        `restart run: ${TOTAL} messages, ${RESTARTS} ${SOAK ? 'node' : 'application'} restarts; handled ${handled} times: ${redeliveries} redeliveries, ${resent} repeated sends; ${errors.length} transport errors reported`,
      );
    },
    SOAK ? 1_800_000 : 120_000,
  );
});
