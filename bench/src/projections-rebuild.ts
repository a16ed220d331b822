/**
 * Rebuild benchmark: a simple order-summary projection rebuilt from ≥ 100,000 events on SQLite and
 * on PostgreSQL, through the document API and through plain SQL, reported in events/s of wall time
 * and per CPU-second of this process (the rebuild runs on one thread, so the latter is steadier on
 * a busy machine; on PostgreSQL it leaves out the server's own CPU time).
 *
 *   node --conditions=eventloom-source --import tsx bench/src/projections-rebuild.ts \
 *     [--backend sqlite|postgres|both] [--events 100000] [--batch 2000] [--runs 3] [--progress]
 *
 * PostgreSQL comes from EVENTLOOM_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
 * the run uses a schema of its own and drops it afterwards.
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
  type EventStore,
  type EventToAppend,
  type ProjectionHandle,
  type ProjectionProgress,
  type ReadModelStore,
  type ReadModelView,
} from '@eventloom/core';
import {
  dropPostgresEventStore,
  openPostgresEventStore,
  openPostgresReadModels,
  type PostgresProjectionHandle,
} from '@eventloom/postgres';
import { openSqliteEventStore, openSqliteReadModels, type SqliteProjectionHandle } from '@eventloom/sqlite';
import type { Statement } from 'better-sqlite3';
import pg from 'pg';

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
    backend: { type: 'string', default: 'both' },
    events: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    progress: { type: 'boolean', default: false },
  },
});
const BACKEND = values.backend;
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres' && BACKEND !== 'both') {
  throw new Error(`--backend must be sqlite, postgres or both, got ${JSON.stringify(BACKEND)}`);
}
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);
const POSTGRES_URL = process.env['EVENTLOOM_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Appends in flight while filling the log. */
const FILL_CONCURRENCY = 500;

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

/** The same through PostgreSQL's document API, whose calls answer with promises. */
const postgresDocumentSummary = defineProjection<OrderEvent, PostgresProjectionHandle>({
  name: 'bench-summary-docs',
  version: 1,
  handlers: {
    OrderCreated: async (event, read) => {
      await read.collection<Summary>('orders').upsert(event.data.orderId, {
        orderId: event.data.orderId,
        customerId: event.data.customerId,
        total: event.data.total,
        paid: 0,
        status: 'open',
      });
    },
    OrderPaid: async (event, read) => {
      await read.collection<Summary>('orders').update(event.data.orderId, (order) => ({ ...order, paid: order.paid + event.data.amount, status: 'paid' }));
    },
    OrderShipped: async (event, read) => {
      await read.collection<Summary>('orders').update(event.data.orderId, (order) => ({ ...order, status: 'shipped' }));
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

/**
 * Plain SQL on PostgreSQL: named statements, which pg parses once per connection and then only
 * binds, the nearest thing to SQLite's prepared statements. The table keeps its name across
 * rebuilds of one version (the rebuild drops and recreates it), so the names stay valid.
 */
function postgresSqlSummary(): AnyProjection<PostgresProjectionHandle> {
  const statement = (read: PostgresProjectionHandle, name: string, text: (table: string) => string, values: unknown[]) =>
    read.client.query({ name: `bench-summary-sql-${name}`, text: text(read.table('orders')), values });
  return defineProjection<OrderEvent, PostgresProjectionHandle>({
    name: 'bench-summary-sql',
    version: 1,
    init: async (read) => {
      await read.client.query(
        `CREATE TABLE ${read.table('orders')} (order_id text PRIMARY KEY, customer_id text NOT NULL, total double precision NOT NULL, paid double precision NOT NULL, status text NOT NULL)`,
      );
    },
    handlers: {
      OrderCreated: async (event, read) => {
        await statement(read, 'insert', (t) => `INSERT INTO ${t} (order_id, customer_id, total, paid, status) VALUES ($1, $2, $3, 0, 'open')`, [
          event.data.orderId,
          event.data.customerId,
          event.data.total,
        ]);
      },
      OrderPaid: async (event, read) => {
        await statement(read, 'pay', (t) => `UPDATE ${t} SET paid = paid + $1, status = 'paid' WHERE order_id = $2`, [event.data.amount, event.data.orderId]);
      },
      OrderShipped: async (event, read) => {
        await statement(read, 'ship', (t) => `UPDATE ${t} SET status = 'shipped' WHERE order_id = $1`, [event.data.orderId]);
      },
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

/**
 * Fills the log with ⌈EVENTS/3⌉ orders of three events each, one stream per order; resolves with
 * the count of events written (on PostgreSQL positions are not a count, so the head cannot say).
 */
async function fill(eventStore: EventStore, backendLabel: string): Promise<number> {
  const orders = Math.ceil(EVENTS / 3);
  const fillStart = performance.now();
  for (let i = 0; i < orders; i += FILL_CONCURRENCY) {
    const appends: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(orders, i + FILL_CONCURRENCY); j++) appends.push(eventStore.appendToStream(`order-${j}`, orderEvents(j)));
    await Promise.all(appends);
  }
  const written = orders * 3;
  console.log(`filled ${written.toLocaleString('en-US')} events in ${((performance.now() - fillStart) / 1000).toFixed(1)} s (${backendLabel})`);
  return written;
}

interface Result {
  readonly backend: string;
  readonly variant: string;
  readonly wall: number;
  readonly cpu: number;
  readonly runs: readonly number[];
}

const median = (list: readonly number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const format = (n: number): string => Math.round(n).toLocaleString('en-US');

async function measure<H extends ProjectionHandle>(
  backend: string,
  variant: string,
  eventStore: EventStore,
  readModels: ReadModelStore<H, ReadModelView>,
  projection: AnyProjection<H>,
  written: number,
): Promise<Result> {
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const bar = values.progress ? progressBar() : undefined;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const final: ProjectionProgress | null = await rebuildProjection<H>({
      eventStore,
      readModels,
      projection,
      batchSize: BATCH,
      ...(bar && { onProgress: bar }),
    });
    const seconds = (performance.now() - start) / 1000;
    if (final?.processed !== written) throw new Error(`rebuild covered ${final?.processed} of ${written} events`);
    const used = process.cpuUsage(cpu);
    rates.push(written / seconds);
    cpuRates.push(written / ((used.user + used.system) / 1e6));
  }
  const result: Result = { backend, variant, wall: median(rates), cpu: median(cpuRates), runs: rates };
  console.log(
    `rebuild, ${backend.padEnd(10)} ${variant.padEnd(12)} ${format(result.wall).padStart(9)} events/s wall, ${format(result.cpu).padStart(9)} events per CPU-second ` +
      `(medians of ${RUNS}; wall runs: ${rates.map(format).join(', ')}; batch ${BATCH})`,
  );
  return result;
}

async function sqlite(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-rebuild-'));
  try {
    const eventStore = openSqliteEventStore({ filename: join(dir, 'bench.db'), durability: 'normal' });
    try {
      const readModels = openSqliteReadModels({ database: eventStore.database });
      const written = await fill(eventStore, 'SQLite, WAL, synchronous=NORMAL');
      return [
        await measure('SQLite', 'document API', eventStore, readModels, documentSummary as AnyProjection<SqliteProjectionHandle>, written),
        await measure('SQLite', 'plain SQL', eventStore, readModels, sqlSummary(), written),
      ];
    } finally {
      await eventStore.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(): Promise<Result[]> {
  const schema = `elbench_rebuild_${process.pid}_${Date.now().toString(36)}`;
  // Only the fill-up goes without waiting for the WAL flush: it is not what is measured, and
  // 33,000 fsync-bound commits would take longer than the rebuilds. The read models' pool keeps
  // the server's defaults, so every rebuild batch commits durably.
  const fillUrl = new URL(POSTGRES_URL);
  fillUrl.searchParams.set('options', '-c synchronous_commit=off');
  const ownerPool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  ownerPool.on('error', () => undefined);
  try {
    const eventStore = await openPostgresEventStore({ connectionString: fillUrl.toString(), schema, poolSize: 16 });
    try {
      const readModels = await openPostgresReadModels({ pool: ownerPool, schema });
      const written = await fill(eventStore, `PostgreSQL, schema ${schema}, fill with synchronous_commit=off`);
      return [
        await measure('PostgreSQL', 'document API', eventStore, readModels, postgresDocumentSummary, written),
        await measure('PostgreSQL', 'plain SQL', eventStore, readModels, postgresSqlSummary(), written),
      ];
    } finally {
      await eventStore.close();
    }
  } finally {
    await ownerPool.end();
    await dropPostgresEventStore({ connectionString: POSTGRES_URL, schema });
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  if (BACKEND !== 'postgres') results.push(...(await sqlite()));
  if (BACKEND !== 'sqlite') results.push(...(await postgres()));
  console.log(`\nProjection rebuild, ${EVENTS.toLocaleString('en-US')} events requested, batch ${BATCH}, medians of ${RUNS} runs`);
  console.log('| backend | variant | events/s (wall) | events per CPU-second (this process) |');
  console.log('|---|---|---:|---:|');
  for (const r of results) console.log(`| ${r.backend} | ${r.variant} | ${format(r.wall)} | ${format(r.cpu)} |`);
}

await main();
