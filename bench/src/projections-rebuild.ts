/**
 * Rebuild benchmark: a simple order-summary projection rebuilt from ≥ 100,000 events on SQLite,
 * through the document API and through plain SQL, reported in events/s of wall time and per
 * CPU-second (the rebuild runs on one thread, so the latter is steadier on a busy machine).
 *
 *   node --conditions=eventloom-source --import tsx bench/src/projections-rebuild.ts [--events 100000] [--batch 2000] [--runs 3] [--progress]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  defineProjection,
  progressBar,
  rebuildProjection,
  type AnyProjection,
  type Event,
  type EventToAppend,
  type ProjectionProgress,
} from '@eventloom/core';
import { openSqliteEventStore, openSqliteReadModels, type SqliteProjectionHandle } from '@eventloom/sqlite';
import type { Statement } from 'better-sqlite3';

type OrderCreated = Event<'OrderCreated', { orderId: string; customerId: string; total: number }>;
type OrderPaid = Event<'OrderPaid', { orderId: string; amount: number }>;
type OrderShipped = Event<'OrderShipped', { orderId: string; carrier: string }>;
type OrderEvent = OrderCreated | OrderPaid | OrderShipped;

interface Summary {
  orderId: string;
  customerId: string;
  total: number;
  paid: number;
  status: 'open' | 'paid' | 'shipped';
}

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    progress: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);

/** Through the document API: one JSON document per order. */
const documentSummary = defineProjection<OrderEvent>({
  name: 'bench-summary-docs',
  version: 1,
  handlers: {
    OrderCreated: (event, read) =>
      read.collection<Summary>('orders').upsert(event.data.orderId, {
        orderId: event.data.orderId,
        customerId: event.data.customerId,
        total: event.data.total,
        paid: 0,
        status: 'open',
      }),
    OrderPaid: (event, read) => {
      read.collection<Summary>('orders').update(event.data.orderId, (order) => ({ ...order, paid: order.paid + event.data.amount, status: 'paid' }));
    },
    OrderShipped: (event, read) => {
      read.collection<Summary>('orders').update(event.data.orderId, (order) => ({ ...order, status: 'shipped' }));
    },
  },
});

/** Through plain SQL on the projection's own table, statements prepared once per connection. */
function sqlSummary(): AnyProjection<SqliteProjectionHandle> {
  let prepared: { insert: Statement; pay: Statement; ship: Statement } | undefined;
  const statements = (read: SqliteProjectionHandle) => {
    if (!prepared) {
      const table = read.table('orders');
      prepared = {
        insert: read.db.prepare(`INSERT INTO ${table} (order_id, customer_id, total, paid, status) VALUES (?, ?, ?, 0, 'open')`),
        pay: read.db.prepare(`UPDATE ${table} SET paid = paid + ?, status = 'paid' WHERE order_id = ?`),
        ship: read.db.prepare(`UPDATE ${table} SET status = 'shipped' WHERE order_id = ?`),
      };
    }
    return prepared;
  };
  return defineProjection<OrderEvent, SqliteProjectionHandle>({
    name: 'bench-summary-sql',
    version: 1,
    init: (read) => {
      prepared = undefined;
      read.db.exec(
        `CREATE TABLE ${read.table('orders')} (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total REAL NOT NULL, paid REAL NOT NULL, status TEXT NOT NULL) WITHOUT ROWID`,
      );
    },
    handlers: {
      OrderCreated: (event, read) => void statements(read).insert.run(event.data.orderId, event.data.customerId, event.data.total),
      OrderPaid: (event, read) => void statements(read).pay.run(event.data.amount, event.data.orderId),
      OrderShipped: (event, read) => void statements(read).ship.run(event.data.orderId),
    },
  });
}

function orderEvents(i: number): EventToAppend<OrderEvent>[] {
  const orderId = `o${i}`;
  const total = 10 + (i % 90);
  return [
    { type: 'OrderCreated', data: { orderId, customerId: `c${i % 1000}`, total } },
    { type: 'OrderPaid', data: { orderId, amount: total } },
    { type: 'OrderShipped', data: { orderId, carrier: 'dhl' } },
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-rebuild-'));
  try {
    const eventStore = openSqliteEventStore({ filename: join(dir, 'bench.db'), durability: 'normal' });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    const orders = Math.ceil(EVENTS / 3);
    const fillStart = performance.now();
    for (let i = 0; i < orders; i += 500) {
      const appends: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(orders, i + 500); j++) appends.push(eventStore.appendToStream(`order-${j}`, orderEvents(j)));
      await Promise.all(appends);
    }
    const head = await eventStore.headPosition();
    console.log(`filled ${head.toLocaleString('en-US')} events in ${((performance.now() - fillStart) / 1000).toFixed(1)} s (SQLite, WAL, synchronous=NORMAL)`);

    for (const [label, projection] of [
      ['document API', documentSummary],
      ['plain SQL', sqlSummary()],
    ] as const) {
      const rates: number[] = [];
      const cpuRates: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const bar = values.progress ? progressBar() : undefined;
        const cpu = process.cpuUsage();
        const start = performance.now();
        const final: ProjectionProgress | null = await rebuildProjection({
          eventStore,
          readModels,
          projection: projection as AnyProjection<SqliteProjectionHandle>,
          batchSize: BATCH,
          ...(bar && { onProgress: bar }),
        });
        const seconds = (performance.now() - start) / 1000;
        if (final?.processed !== Number(head)) throw new Error(`rebuild covered ${final?.processed} of ${head} events`);
        const used = process.cpuUsage(cpu);
        rates.push(Number(head) / seconds);
        cpuRates.push(Number(head) / ((used.user + used.system) / 1e6));
      }
      const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
      const format = (n: number): string => Math.round(n).toLocaleString('en-US');
      console.log(
        `rebuild, ${label.padEnd(12)} ${format(median(rates)).padStart(9)} events/s wall, ${format(median(cpuRates)).padStart(9)} events per CPU-second ` +
          `(medians of ${RUNS}; wall runs: ${rates.map(format).join(', ')}; batch ${BATCH})`,
      );
    }
    await eventStore.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
