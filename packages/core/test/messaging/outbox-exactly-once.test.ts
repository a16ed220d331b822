/**
 * Exactly-once effects on the memory parts, in one process: relays crash between a confirmed
 * publish and the checkpoint (their `afterPublish` throws and they fail, as a killed process
 * stops), consumer transports crash between a committed write and the ack (`crash()`: nothing
 * acked, their messages come back after the visibility timeout), and new ones take over, many
 * times over 10,000 messages. The inbox-guarded effects happen exactly once per message; the
 * same handling without the inbox writes duplicates. (SQLite and PostgreSQL run it with real
 * processes and SIGKILL.)
 */
import {
  createMemoryInbox,
  inboxHandlers,
  MemoryEventStore,
  MemoryTransport,
  startOutboxRelay,
  type EventOutboxRelay,
  type MemoryTransaction,
} from '@eventloom/core';
import { MemoryTransportStorage } from '../../src/messaging/memory/memory-storage.js';
import { expect, it } from 'vitest';

const MESSAGES = 10_000;
const TOPIC = 'users';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Crash extends Error {}

it(`delivers ${MESSAGES} messages' inbox-guarded effects exactly once through relay and consumer crashes`, { timeout: 60_000 }, async () => {
  const store = new MemoryEventStore();
  const storage = new MemoryTransportStorage();
  const inbox = createMemoryInbox();
  const guarded = new Map<string, number>();
  const plain = new Map<string, number>();
  const bump = (map: Map<string, number>, id: string): void => void map.set(id, (map.get(id) ?? 0) + 1);
  const setup = new MemoryTransport({ storage });
  await setup.declare([
    { topic: TOPIC, group: 'guarded' },
    { topic: TOPIC, group: 'plain' },
  ]);
  for (let at = 0; at < MESSAGES; at += 500) {
    await store.appendToStream(`user-${at}`, Array.from({ length: 500 }, (_, i) => ({ type: 'Noted', data: { n: at + i } })));
  }
  const head = await store.headPosition();
  const kills = { relay: 0, consumer: 0 };

  // A relay that dies after a random number of confirmed batches, before their checkpoint.
  const startRelay = (): EventOutboxRelay => {
    let left = kills.relay < 20 ? 1 + Math.floor(Math.random() * 8) : Infinity;
    return startOutboxRelay({
      store,
      transport: new MemoryTransport({ storage }),
      name: 'users',
      route: () => ({ topic: TOPIC }),
      batchSize: 100,
      maxAttempts: 1,
      leaseMs: 200,
      pollIntervalMs: 10,
      logger: false,
      afterPublish: () => {
        if (--left <= 0) throw new Crash('the relay died after the publish');
      },
    });
  };
  // A consumer "process" that dies after a random number of committed writes, before their acks.
  const startConsumers = (): MemoryTransport => {
    const transport = new MemoryTransport({ storage });
    let left = kills.consumer < 50 ? 20 + Math.floor(Math.random() * 400) : Infinity;
    let crashed = false;
    const maybeCrash = async (): Promise<void> => {
      if (crashed || --left > 0) return;
      crashed = true;
      kills.consumer++;
      await transport.crash();
      consumers.splice(consumers.indexOf(transport), 1, startConsumers());
    };
    const options = { logger: false as const, visibilityTimeoutMs: 200, concurrency: 4, failurePolicy: { maxAttempts: 1_000, retryDelayMs: 5, maxRetryDelayMs: 50 } };
    const guardedHandlers = inboxHandlers<{ type: 'Noted'; data: { n: number } }, MemoryTransaction>(inbox, 'guarded', {
      Noted: (message, { tx }) => tx.onCommit(() => bump(guarded, message.id)),
    });
    transport.consume<{ type: 'Noted'; data: { n: number } }>(
      { topic: TOPIC, group: 'guarded' },
      {
        Noted: async (message, context) => {
          await guardedHandlers.Noted!(message, context);
          await maybeCrash();
        },
      },
      options,
    );
    transport.consume<{ type: 'Noted'; data: { n: number } }>(
      { topic: TOPIC, group: 'plain' },
      {
        Noted: async (message) => {
          bump(plain, message.id);
          await maybeCrash();
        },
      },
      options,
    );
    return transport;
  };

  let relay = startRelay();
  const consumers = [startConsumers(), startConsumers()];
  const started = Date.now();
  for (;;) {
    if (relay.status === 'failed') {
      kills.relay++;
      relay = startRelay();
    }
    const depth = storage.depth({ topic: TOPIC, group: 'guarded' }) + storage.depth({ topic: TOPIC, group: 'plain' });
    if (relay.position !== null && relay.position >= head && depth === 0 && guarded.size === MESSAGES && plain.size === MESSAGES) break;
    if (Date.now() - started > 50_000) throw new Error(`not settled: ${JSON.stringify({ kills, guarded: guarded.size, plain: plain.size, depth, position: String(relay.position) })}`);
    await sleep(20);
  }
  await relay.stop();
  await Promise.all(consumers.map((t) => t.close()));
  await setup.close();

  const guardedRuns = [...guarded.values()];
  const plainRuns = [...plain.values()].reduce((a, b) => a + b, 0);
  console.log(`memory exactly-once: ${JSON.stringify({ kills, guarded: guardedRuns.length, plainRuns, ms: Date.now() - started })}`);
  expect(kills.relay).toBeGreaterThanOrEqual(5);
  expect(kills.consumer).toBeGreaterThanOrEqual(10);
  expect(guarded.size).toBe(MESSAGES);
  expect(guardedRuns.every((runs) => runs === 1)).toBe(true);
  expect(plain.size).toBe(MESSAGES);
  expect(plainRuns).toBeGreaterThan(MESSAGES);
});
