/**
 * Rebuild benchmark: a simple order-summary projection rebuilt from ≥ 100,000 events on SQLite and
 * on PostgreSQL, through the document API and through plain SQL, reported in events/s of wall time
 * and per CPU-second of this process (the rebuild runs on one thread, so the latter is steadier on
 * a busy machine; on PostgreSQL it leaves out the server's own CPU time).
 *
 *   node --import tsx bench/src/projections-rebuild.ts \
 *     [--backend sqlite|postgres|both] [--events 100000] [--batch 2000] [--runs 3] [--progress]
 *     [--variants document,sql,types]
 *
 * PostgreSQL comes from EVENTLOOM_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
 * the run uses a schema of its own and drops it afterwards.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    variants: { type: 'string', default: 'document,sql,types' },
  },
});
const BACKEND = values.backend;
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres' && BACKEND !== 'both') {
  throw new Error(`--backend must be sqlite, postgres or both, got ${JSON.stringify(BACKEND)}`);
}
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);
/** Which variants run: `document` (the document API), `sql` (plain SQL), `types` (one type of three beside all three). */
const VARIANTS = new Set(values.variants.split(','));
for (const variant of VARIANTS) {
  if (!['document', 'sql', 'types'].includes(variant)) throw new Error(`--variants takes document, sql, types; got ${JSON.stringify(variant)}`);
}
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

/**
 * One type of three: a projection of OrderCreated only, so its rebuild reads a third of the log
 * (the type filter goes into the store's query). `allTypes` does the same writes but also handles
 * the other two types with no-ops, so it reads every event: the pair shows what the filter saves.
 */
function createdOnly<H extends ProjectionHandle>(name: string, allTypes: boolean, insert: (event: OrderCreated, read: H) => unknown, init: (read: H) => unknown): AnyProjection<H> {
  const noop = (): void => undefined;
  return defineProjection<OrderEvent, H>({
    name,
    version: 1,
    init: (read) => init(read) as void,
    handlers: {
      OrderCreated: (event, read) => insert(event, read) as void,
      ...(allTypes && { OrderPaid: noop, OrderShipped: noop }),
    },
  }) as AnyProjection<H>;
}

function sqliteCreated(allTypes: boolean): AnyProjection<SqliteProjectionHandle> {
  let insert: Statement<[string, string, number]> | undefined;
  return createdOnly<SqliteProjectionHandle>(
    allTypes ? 'bench-created-all' : 'bench-created-one',
    allTypes,
    (event, read) => {
      insert ??= read.db.prepare<[string, string, number]>(`INSERT INTO ${read.table('orders')} (order_id, customer_id, total) VALUES (?, ?, ?)`);
      insert.run(event.data.orderId, event.data.customerId, event.data.total);
    },
    (read) => {
      insert = undefined;
      read.db.exec(`CREATE TABLE ${read.table('orders')} (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total REAL NOT NULL) WITHOUT ROWID`);
    },
  );
}

function postgresCreated(allTypes: boolean): AnyProjection<PostgresProjectionHandle> {
  const name = allTypes ? 'bench-created-all' : 'bench-created-one';
  return createdOnly<PostgresProjectionHandle>(
    name,
    allTypes,
    (event, read) =>
      read.client.query({
        name: `${name}-insert`,
        text: `INSERT INTO ${read.table('orders')} (order_id, customer_id, total) VALUES ($1, $2, $3)`,
        values: [event.data.orderId, event.data.customerId, event.data.total],
      }),
    (read) => read.client.query(`CREATE TABLE ${read.table('orders')} (order_id text PRIMARY KEY, customer_id text NOT NULL, total double precision NOT NULL)`),
  );
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
  /** Events read by each rebuild (a third of the log for a one-type projection). */
  readonly read: number;
  /** Medians of the runs: events read per second of wall time and per CPU-second of this process. */
  readonly wall: number;
  readonly cpu: number;
  /** Median milliseconds per rebuild, and the best. */
  readonly ms: number;
  readonly bestMs: number;
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
  const times: number[] = [];
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
    times.push(seconds * 1000);
    rates.push(written / seconds);
    cpuRates.push(written / ((used.user + used.system) / 1e6));
  }
  const result: Result = { backend, variant, read: written, wall: median(rates), cpu: median(cpuRates), ms: median(times), bestMs: Math.min(...times), runs: rates };
  console.log(
    `rebuild, ${backend.padEnd(10)} ${variant.padEnd(24)} ${format(result.ms).padStart(6)} ms, ${format(result.wall).padStart(9)} events read/s wall, ${format(result.cpu).padStart(9)} per CPU-second ` +
      `(medians of ${RUNS}; wall runs: ${rates.map(format).join(', ')}; batch ${BATCH})`,
  );
  return result;
}

/** The one-type rebuild and the same work reading every type, alternating, so both meet the same load. */
async function typePair<H extends ProjectionHandle>(
  backend: string,
  eventStore: EventStore,
  readModels: ReadModelStore<H, ReadModelView>,
  make: (allTypes: boolean) => AnyProjection<H>,
  written: number,
): Promise<Result[]> {
  const one = make(false);
  const all = make(true);
  const oneRuns: Result[] = [];
  const allRuns: Result[] = [];
  for (let round = 0; round < 2; round++) {
    oneRuns.push(await measure(backend, 'SQL, 1 type of 3', eventStore, readModels, one, written / 3));
    allRuns.push(await measure(backend, 'SQL, same, reading all 3', eventStore, readModels, all, written));
  }
  const pick = (runs: Result[]): Result => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  return [pick(oneRuns), pick(allRuns)];
}

async function sqlite(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-rebuild-'));
  try {
    const eventStore = openSqliteEventStore({ filename: join(dir, 'bench.db'), durability: 'normal' });
    try {
      const readModels = openSqliteReadModels({ database: eventStore.database });
      const written = await fill(eventStore, 'SQLite, WAL, synchronous=NORMAL');
      return [
        ...(VARIANTS.has('document') ? [await measure('SQLite', 'document API', eventStore, readModels, documentSummary as AnyProjection<SqliteProjectionHandle>, written)] : []),
        ...(VARIANTS.has('sql') ? [await measure('SQLite', 'plain SQL', eventStore, readModels, sqlSummary(), written)] : []),
        ...(VARIANTS.has('types') ? await typePair('SQLite', eventStore, readModels, sqliteCreated, written) : []),
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
        ...(VARIANTS.has('document') ? [await measure('PostgreSQL', 'document API', eventStore, readModels, postgresDocumentSummary, written)] : []),
        ...(VARIANTS.has('sql') ? [await measure('PostgreSQL', 'plain SQL', eventStore, readModels, postgresSqlSummary(), written)] : []),
        ...(VARIANTS.has('types') ? await typePair('PostgreSQL', eventStore, readModels, postgresCreated, written) : []),
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
  console.log(`\n${rebuildTable(results)}`);
  // RESULTS.md shows each backend's last full run of this script (bench/src/report/results-md.ts reads it).
  if (EVENTS >= 100_000 && VARIANTS.size === 3) {
    const file = fileURLToPath(new URL('../results/rebuild.json', import.meta.url));
    mkdirSync(dirname(file), { recursive: true });
    const kept = (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { backends?: Record<string, unknown> }).backends : undefined) ?? {};
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    const backends = { ...kept };
    for (const backend of new Set(results.map((r) => r.backend))) {
      backends[backend] = { finishedAt: new Date().toISOString(), load, table: rebuildTable(results.filter((r) => r.backend === backend)) };
    }
    writeFileSync(file, JSON.stringify({ backends }, null, 2));
    console.log(`wrote ${file}`);
  }
}

function rebuildTable(results: readonly Result[]): string {
  const lines = [
    `${EVENTS.toLocaleString('en-US')} events requested, batch ${BATCH}, medians of ${RUNS} runs (the type pair: the faster of two alternating rounds of each)`,
    '',
    '| backend | variant | events read | ms per rebuild (median; best) | events read/s (wall) | events read per CPU-second (this process) |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const r of results) lines.push(`| ${r.backend} | ${r.variant} | ${format(r.read)} | ${format(r.ms)}; ${format(r.bestMs)} | ${format(r.wall)} | ${format(r.cpu)} |`);
  return lines.join('\n');
}

await main();
