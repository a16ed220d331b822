/**
 * The code of docs/projections.md, run as tests — the same projection, queries and operations on
 * memory, SQLite and PostgreSQL (only the lines that open the stores differ).
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
// #region imports
import {
  defineProjection,
  MemoryEventStore,
  MemoryReadModelStore,
  progressBar,
  ProjectionRunner,
  replayTimeRange,
  SubscriptionFailedError,
  type EventStore,
  type ProjectionRunnerEvent,
  type ReadModelStore,
} from '@eventloom/core';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresReadModels } from '@eventloom/postgres';
import { openSqliteEventStore, openSqliteReadModels } from '@eventloom/sqlite';
import { givenEvents, POSTGRES, serviceOrSkip } from '@eventloom/testing';
import { getCustomerOrders, orders, orderSummaries, type OrderSummary } from '../../examples/orders/src/read-models/order-summary.js';
import type { OrderEvent } from '../../examples/orders/src/order/index.js';
// #endregion imports
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const postgresUrl = await serviceOrSkip(POSTGRES);

interface Stores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** Another read-model store on the same data, as a web process that runs no projection opens it. */
  readonly web: () => Promise<ReadModelStore>;
  close(): Promise<void>;
}

let unique = 0;
const opened: Stores[] = [];

async function openMemory(): Promise<Stores> {
  // #region open-memory
  const eventStore = new MemoryEventStore();
  const readModels = new MemoryReadModelStore();
  // #endregion open-memory
  return { eventStore, readModels, web: async () => readModels, close: () => Promise.all([readModels.close(), eventStore.close()]).then(() => undefined) };
}

async function openSqlite(): Promise<Stores> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-projections-guide-'));
  const filename = join(dir, 'shop.db');
  // #region open-sqlite
  const eventStore = openSqliteEventStore({ filename });
  const readModels = openSqliteReadModels({ database: eventStore.database }); // in the events' file
  // #endregion open-sqlite
  const webs: ReadModelStore[] = [];
  return {
    eventStore,
    readModels,
    web: async () => {
      // #region web-sqlite
      const webReadModels = openSqliteReadModels({ filename }); // another process: its own connection to the file
      // #endregion web-sqlite
      webs.push(webReadModels);
      return webReadModels;
    },
    close: async () => {
      for (const web of webs) await web.close();
      await readModels.close();
      await eventStore.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<Stores> {
  const connectionString = postgresUrl!;
  unique++;
  const schema = `guide_${process.pid}_${unique}`;
  // #region open-postgres
  const eventStore = await openPostgresEventStore({ connectionString, schema });
  // The read models' tables are made by the schema's owner: give them a pool of their own.
  const pool = new pg.Pool({ connectionString });
  const readModels = await openPostgresReadModels({ pool, schema });
  // #endregion open-postgres
  const webs: { store: ReadModelStore; pool: pg.Pool }[] = [];
  return {
    eventStore,
    readModels,
    web: async () => {
      const webPool = new pg.Pool({ connectionString });
      const store = await openPostgresReadModels({ pool: webPool, schema });
      webs.push({ store, pool: webPool });
      return store;
    },
    close: async () => {
      for (const web of webs) {
        await web.store.close();
        await web.pool.end();
      }
      await readModels.close();
      await pool.end();
      await eventStore.close();
      await dropPostgresEventStore({ connectionString, schema });
    },
  };
}

const kinds: [string, () => Promise<Stores>, boolean][] = [
  ['memory', openMemory, true],
  ['sqlite', openSqlite, true],
  ['postgres', openPostgres, postgresUrl !== undefined],
];

function placed(orderId: string, customerId: string, totalAmount: number): { type: 'OrderCreated'; data: Extract<OrderEvent, { type: 'OrderCreated' }>['data'] } {
  return {
    type: 'OrderCreated',
    data: { orderId, customerId, currency: 'EUR', totalAmount, items: [{ productId: 'prod-cable', quantity: 1, price: totalAmount }] },
  };
}

afterEach(async () => {
  for (const stores of opened.splice(0)) await stores.close();
});

for (const [kind, open, available] of kinds) {
  describe.skipIf(!available)(`docs/projections.md on ${kind}`, () => {
    const stores = async (): Promise<Stores> => {
      const s = await open();
      opened.push(s);
      return s;
    };

    it('runs the projection, waits for a position on the store, and pages a customer\'s orders newest first', async () => {
      const { eventStore, readModels, web } = await stores();
      // #region run
      const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummaries] });
      await runner.start();
      // #endregion run
      try {
        // #region wait-for-position
        const { position } = await eventStore.appendToStream<OrderEvent>('order-1001', [placed('1001', 'cust-ada', 30)]);
        await readModels.waitForPosition('order-summary', position, { timeoutMs: 5_000 });
        const { documents } = await getCustomerOrders(readModels, 'cust-ada');
        // documents[0].orderId === '1001': the read model shows the append
        // #endregion wait-for-position
        expect(documents.map((o) => o.orderId)).toEqual(['1001']);

        for (const [orderId, customerId, total] of [
          ['1002', 'cust-grace', 458],
          ['1003', 'cust-ada', 20],
          ['1004', 'cust-ada', 147],
          ['1005', 'cust-ada', 5],
        ] as const) {
          await eventStore.appendToStream<OrderEvent>(`order-${orderId}`, [placed(orderId, customerId, total)]);
        }
        const last = await eventStore.appendToStream<OrderEvent>('order-1003', [
          { type: 'OrderPaid', data: { orderId: '1003', amount: 20, paymentId: 'pay-1' } },
        ]);
        // a web process that runs no projection waits on its own store, woken by the runner's commit
        const webReadModels = await web();
        await webReadModels.waitForPosition('order-summary', last.position, { timeoutMs: 5_000 });
        expect((await webReadModels.read('order-summary', (view) => view.collection(orders).get('1003')))?.status).toBe('PAID');

        // #region paging
        const seen: string[] = [];
        let after: string | null = null;
        do {
          const page = await getCustomerOrders(readModels, 'cust-ada', { limit: 2, after });
          seen.push(...page.documents.map((order) => order.orderId));
          after = page.next; // null after the last page
        } while (after !== null);
        // seen: ['1005', '1004', '1003', '1001'] — newest first
        // #endregion paging
        expect(seen).toEqual(['1005', '1004', '1003', '1001']);

        // #region queries
        const big = await readModels.read('order-summary', (view) =>
          view.collection(orders).find({
            where: { totalAmount: { gte: 20, lt: 200 }, status: { in: ['PENDING', 'PAID'] } },
            orderBy: [['totalAmount', 'desc']],
          }),
        );
        const pending = await readModels.read('order-summary', (view) => view.collection(orders).count({ status: 'PENDING' }));
        const notAda = await readModels.read('order-summary', (view) => view.collection(orders).find({ where: { customerId: { ne: 'cust-ada' } } }));
        // #endregion queries
        expect(big.map((o: OrderSummary) => o.orderId)).toEqual(['1004', '1001', '1003']);
        expect(pending).toBe(4);
        expect(notAda.map((o) => o.orderId)).toEqual(['1002']);

        // #region lag
        const lag = await runner.lag('order-summary');
        // → { projection: { name: 'order-summary', version: 1, … }, checkpoint, head, events: 0, seconds: 0, failure: null }
        // #endregion lag
        expect(lag).toMatchObject({ events: 0, seconds: 0, failure: null });
        expect(runner.status('order-summary')).toMatchObject({ status: 'live', leading: true, serving: true });
      } finally {
        await runner.stop();
      }
    });

    it('stops on a failing handler, visibly, and resumes after the fix', async () => {
      const { eventStore, readModels } = await stores();
      let carriers = ['DHL'];
      // #region failures
      const shipments = defineProjection<OrderEvent>({
        name: 'shipments',
        version: 1,
        failurePolicy: { maxAttempts: 3, retryDelayMs: 10, onFailure: 'stop' }, // or 'dead-letter'
        handlers: {
          OrderShipped: async (event, { collection }) => {
            if (!carriers.includes(event.data.carrier)) throw new Error(`unknown carrier ${event.data.carrier}`);
            await collection('shipments').upsert(event.data.orderId, { carrier: event.data.carrier });
          },
        },
      });
      const events: ProjectionRunnerEvent[] = [];
      const runner = new ProjectionRunner({ eventStore, readModels, projections: [shipments], onEvent: (e) => events.push(e) });
      await runner.start();
      const shipped = await eventStore.appendToStream<OrderEvent>('order-8', [
        { type: 'OrderShipped', data: { orderId: '8', carrier: 'owl', trackingNumber: 'OWL-1' } },
      ]);

      await expect(runner.waitForPosition('shipments', shipped.position, { timeoutMs: 5_000 })).rejects.toBeInstanceOf(SubscriptionFailedError);
      const { status, failure } = runner.status('shipments');
      // status === 'failed'; failure: { position, eventId, eventType: 'OrderShipped', streamId: 'order-8',
      //   error: 'Error: unknown carrier owl', stack, attempts: 3, failedAt }

      carriers = [...carriers, 'owl']; // the fix
      await runner.restart('shipments'); // resumes from the failed event
      await runner.waitForPosition('shipments', shipped.position, { timeoutMs: 5_000 });
      // #endregion failures
      try {
        expect(status).toBe('failed');
        expect(failure).toMatchObject({ eventType: 'OrderShipped', streamId: 'order-8', error: 'Error: unknown carrier owl', attempts: 3 });
        expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2);
        expect(await readModels.read('shipments', (v) => v.collection('shipments').get('8'))).toEqual({ carrier: 'owl' });
      } finally {
        await runner.stop();
      }
    });

    it('rebuilds, switches versions blue/green and replays time ranges', async () => {
      const { eventStore, readModels } = await stores();
      const output: string[] = [];
      const stream = new Writable({ write: (chunk, _encoding, done) => (output.push(String(chunk)), done()) });
      for (let i = 0; i < 20; i++) await eventStore.appendToStream<OrderEvent>(`order-${i}`, [placed(String(i), 'cust-ada', i)]);
      const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummaries] });
      await runner.start();
      try {
        // #region rebuild
        const progress = await runner.rebuild('order-summary', { onProgress: progressBar({ stream }) });
        // progress: { processed, total, eventsPerSecond, etaSeconds, elapsedMs, done: true, … }
        // the bar: order-summary@1 [########################] 100% 20/20 · 9,913 ev/s · done in 0.0 s
        // #endregion rebuild
        expect(progress).toMatchObject({ processed: 20, total: 20, done: true });
        expect(output.join('')).toMatch(/order-summary@1 \[#+\] 100% 20\/20/);

        // #region blue-green
        const orderSummariesV2 = defineProjection<OrderEvent>({
          name: 'order-summary',
          version: 2, // built beside version 1, which serves until version 2 has caught up
          collections: [orders],
          handlers: {
            OrderCreated: async (event, { collection }) => {
              const { orderId, customerId, totalAmount, currency } = event.data;
              await collection(orders).upsert(orderId, {
                orderId, customerId, totalAmount, currency, itemCount: event.data.items.length,
                status: 'PENDING', createdAt: event.time, updatedAt: event.time,
              });
            },
          },
        });
        const next = new ProjectionRunner({ eventStore, readModels, projections: [orderSummariesV2] });
        next.onEvent((event) => {
          if (event.type === 'switched') console.log(`${event.projection.namespace} now serves (was version ${event.from})`);
        });
        await next.start();
        // #endregion blue-green
        try {
          await expect.poll(() => readModels.read('order-summary', (v) => v.projection.version), { timeout: 20_000 }).toBe(2);
          await expect.poll(() => runner.status('order-summary').status, { timeout: 20_000 }).toBe('superseded');
          expect(await readModels.read('order-summary', (v) => v.collection(orders).count())).toBe(20);
        } finally {
          await next.stop();
        }
      } finally {
        await runner.stop();
      }

      const marchOrders = defineProjection<OrderEvent>({
        name: 'march-2026-orders',
        version: 1,
        handlers: {
          OrderCreated: (event, { collection }) => collection('orders').upsert(event.data.orderId, { customerId: event.data.customerId, total: event.data.totalAmount }),
        },
      });
      const replayed = await replayTimeRange({ eventStore, readModels, projection: marchOrders, to: new Date(Date.now() + 60_000) });
      expect(replayed.applied).toBe(20);
    });
  });
}

describe('docs/projections.md, the time-range replay and given/then', () => {
  it('replays one month into a new projection', async () => {
    const eventStore = new MemoryEventStore({ clock: () => new Date('2026-03-15T12:00:00.000Z') });
    const readModels = new MemoryReadModelStore();
    for (let i = 0; i < 3; i++) await eventStore.appendToStream<OrderEvent>(`order-${i}`, [placed(String(i), 'cust-ada', i)]);
    // #region replay
    const marchOrders = defineProjection<OrderEvent>({
      name: 'march-2026-orders',
      version: 1,
      handlers: {
        OrderCreated: (event, { collection }) => collection('orders').upsert(event.data.orderId, { customerId: event.data.customerId, total: event.data.totalAmount }),
      },
    });
    const replayed = await replayTimeRange({
      eventStore,
      readModels,
      projection: marchOrders,
      from: '2026-03-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
    });
    // replayed.applied: the number of events of that month handed to the projection
    // #endregion replay
    expect(replayed.applied).toBe(3);
  });

  it('specifies projections with given events → then read model', async () => {
    // #region given
    await givenEvents(orderSummaries, [
      { streamId: 'order-1', time: '2026-03-01T10:00:00.000Z', ...placed('1', 'cust-ada', 30) },
      { streamId: 'order-1', time: '2026-03-01T10:05:00.000Z', type: 'OrderPaid', data: { orderId: '1', amount: 30, paymentId: 'pay-1' } },
    ]).thenReadModel(async (view) => {
      expect(await view.collection(orders).get('1')).toMatchObject({ status: 'PAID', updatedAt: '2026-03-01T10:05:00.000Z' });
    });
    // #endregion given
  });
});
