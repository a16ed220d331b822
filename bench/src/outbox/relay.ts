/**
 * O1/O2: the outbox relays' throughput — messages moved from where they were committed to the
 * transport, per second, until the checkpoint (O1) or the outbox table (O2) says all are sent.
 *
 * - O1 event-store relay: N events (1 KB data) in streams of 10, appended beforehand; the relay
 *   publishes them to a topic with one group, batches of 100. Beside it, "read + publish": the
 *   same batches read from the log and published by hand, with no lease and no checkpoint — what
 *   the relay's own bookkeeping costs is the difference.
 * - O2 state-based outbox: N messages added in transactions of 100 beforehand; its relay sends
 *   them to a queue and deletes them, batches of 100.
 *
 * Targets: memory, SQLite (one file, durability full), PostgreSQL (EVENTLOOM_POSTGRES_URL, when
 * reachable). Usage: npm run -w @eventloom/bench outbox [-- --messages 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createMemoryOutbox,
  inMemoryTransaction,
  MemoryEventStore,
  MemoryTransport,
  startOutboxRelay,
  type EventStore,
  type Outbox,
  type Transport,
} from '@eventloom/core';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresOutbox, openPostgresTransport } from '@eventloom/postgres';
import { openSqliteEventStore, openSqliteOutbox, openSqliteTransport } from '@eventloom/sqlite';
import pg from 'pg';

const args = process.argv.slice(2);
const at = args.indexOf('--messages');
const N = at >= 0 ? Number(args[at + 1]) : 20_000;
const BATCH = 100;
const DATA = { text: 'x'.repeat(1_000) };

interface Target {
  readonly name: string;
  readonly store: EventStore;
  readonly transport: Transport;
  readonly outbox: Outbox<unknown>;
  /** Adds `count` messages to the outbox in one transaction of the target's kind. */
  addBatch(count: number, from: number): Promise<void>;
  close(): Promise<void>;
}

async function fill(store: EventStore, prefix: string): Promise<bigint> {
  for (let i = 0; i < N; i += 10) {
    await store.appendToStream(`${prefix}-${i / 10}`, Array.from({ length: 10 }, (_, k) => ({ type: 'Noted', data: { ...DATA, n: i + k } })));
  }
  return store.headPosition();
}

async function eventRelay(target: Target, prefix: string, head: bigint): Promise<number> {
  await target.transport.declare([{ topic: `${prefix}-t`, group: 'g' }]);
  const t = performance.now();
  const relay = startOutboxRelay({
    store: target.store,
    transport: target.transport,
    name: `${prefix}-relay`,
    filter: { streamPrefixes: [`${prefix}-`] },
    route: () => ({ topic: `${prefix}-t` }),
    batchSize: BATCH,
    logger: false,
  });
  await relay.waitFor(head, 600_000);
  const ms = performance.now() - t;
  await relay.stop();
  return ms;
}

async function readAndPublish(target: Target, prefix: string): Promise<number> {
  await target.transport.declare([{ topic: `${prefix}-raw`, group: 'g' }]);
  const t = performance.now();
  let batch: { id: string; type: string; data: unknown; subject: string; partitionKey: string }[] = [];
  for await (const event of target.store.readAll({ filter: { streamPrefixes: [`${prefix}-`] }, batchSize: BATCH })) {
    batch.push({ id: event.id, type: event.type, data: event.data, subject: event.streamId, partitionKey: event.streamId });
    if (batch.length === BATCH) {
      await target.transport.publish(`${prefix}-raw`, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await target.transport.publish(`${prefix}-raw`, batch);
  return performance.now() - t;
}

async function stateOutbox(target: Target): Promise<number> {
  for (let i = 0; i < N; i += BATCH) await target.addBatch(BATCH, i);
  const t = performance.now();
  const relay = target.outbox.startRelay(target.transport, { batchSize: BATCH, logger: false });
  await relay.waitForEmpty(600_000);
  const ms = performance.now() - t;
  await relay.stop();
  return ms;
}

function outboxMessages(count: number, from: number) {
  return Array.from({ length: count }, (_, k) => ({ queue: 'bench-outbox', type: 'Noted', data: { ...DATA, n: from + k } }));
}

async function memoryTarget(): Promise<Target> {
  const store = new MemoryEventStore();
  const transport = new MemoryTransport();
  const outbox = createMemoryOutbox({ name: 'bench' });
  return {
    name: 'memory',
    store,
    transport,
    outbox: outbox as Outbox<unknown>,
    addBatch: (count, from) => inMemoryTransaction((tx) => void outbox.add(tx, outboxMessages(count, from))),
    close: async () => {
      await transport.close();
      await store.close();
    },
  };
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-outbox-'));
  const store = openSqliteEventStore({ filename: join(dir, 'bench.db') });
  const transport = openSqliteTransport({ store });
  const outbox = openSqliteOutbox({ database: store.database, name: 'bench' });
  const db = store.database;
  return {
    name: 'sqlite',
    store,
    transport,
    outbox: outbox as Outbox<unknown>,
    addBatch: async (count, from) => db.transaction(() => void outbox.add(db, outboxMessages(count, from))).immediate(),
    close: async () => {
      await transport.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresTarget(connectionString: string): Promise<Target> {
  const schema = `bench_outbox_${process.pid}`;
  const store = await openPostgresEventStore({ connectionString, schema });
  const transport = await openPostgresTransport({ store });
  const pool = new pg.Pool({ connectionString, max: 4 });
  const outbox = await openPostgresOutbox({ pool, schema, name: 'bench' });
  return {
    name: 'postgres',
    store,
    transport,
    outbox: outbox as Outbox<unknown>,
    addBatch: async (count, from) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await outbox.add(client, outboxMessages(count, from));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
    close: async () => {
      await transport.close();
      await store.close();
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const rate = (ms: number): string => `${Math.round((N / ms) * 1_000).toLocaleString('en')} msgs/s`;
const url = process.env.EVENTLOOM_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const makers: (() => Promise<Target>)[] = [memoryTarget, sqliteTarget];
if (await reachable(url)) makers.push(() => postgresTarget(url));

console.log(`outbox relays, ${N.toLocaleString('en')} messages of 1 KB, batches of ${BATCH}`);
for (const make of makers) {
  const target = await make();
  try {
    const head = await fill(target.store, 'o1');
    const relayMs = await eventRelay(target, 'o1', head);
    const rawMs = await readAndPublish(target, 'o1');
    const outboxMs = await stateOutbox(target);
    console.log(
      `${target.name.padEnd(9)} O1 event relay ${rate(relayMs).padStart(15)} (read + publish by hand ${rate(rawMs)}: the relay at ${(rawMs / relayMs).toFixed(2)}×)   O2 state outbox ${rate(outboxMs).padStart(15)}`,
    );
  } finally {
    await target.close();
  }
}
