/** Projections on SQLite end to end, as a guide shows them: declared collections, async handlers, queries, inline projections, failures, rebuilds. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
// #region imports
import {
  defineCollection,
  defineProjection,
  progressBar,
  ProjectionRunner,
  replayTimeRange,
  SubscriptionFailedError,
  type Event,
  type ProjectionRunnerEvent,
} from '@eventloom/core';
import { addInlineProjection, openSqliteEventStore, openSqliteReadModels, type SqliteProjectionHandle } from '@eventloom/sqlite';
import { givenEvents } from '@eventloom/testing';
// #endregion imports
import { tempDir } from './temp-dir.js';

// #region events
type OrderPlaced = Event<'OrderPlaced', { orderId: string; customerId: string; total: number }>;
type OrderPaid = Event<'OrderPaid', { orderId: string }>;
type OrderShipped = Event<'OrderShipped', { orderId: string; carrier: string }>;
type OrderEvent = OrderPlaced | OrderPaid | OrderShipped;
// #endregion events

// #region order-summary
interface OrderSummary {
  orderId: string;
  customerId: string;
  total: number;
  status: 'placed' | 'paid' | 'shipped';
  placedAt: string;
}

// Declared once, with its type and indexes: a real index on SQLite and PostgreSQL.
const orders = defineCollection<OrderSummary>('orders', {
  indexes: { byCustomer: ['customerId', 'placedAt'] },
});

const orderSummary = defineProjection<OrderEvent>({
  name: 'order-summary',
  version: 1,
  collections: [orders],
  handlers: {
    OrderPlaced: async (event, { collection }) => {
      const { orderId, customerId, total } = event.data;
      await collection(orders).upsert(orderId, { orderId, customerId, total, status: 'placed', placedAt: event.time });
    },
    OrderPaid: async (event, { collection }) => {
      await collection(orders).update(event.data.orderId, (order) => ({ ...order, status: 'paid' }));
    },
    OrderShipped: async (event, { collection }) => {
      await collection(orders).update(event.data.orderId, (order) => ({ ...order, status: 'shipped' }));
    },
  },
});
// #endregion order-summary

// #region daily-sales
const dailySales = defineProjection<OrderEvent, SqliteProjectionHandle>({
  name: 'daily-sales',
  version: 1,
  init: (read) => {
    read.db.exec(`CREATE TABLE ${read.table('days')} (day TEXT PRIMARY KEY, orders INTEGER NOT NULL, revenue REAL NOT NULL)`);
  },
  handlers: {
    OrderPlaced: (event, read) => {
      read.db
        .prepare(
          `INSERT INTO ${read.table('days')} (day, orders, revenue) VALUES (?, 1, ?)
           ON CONFLICT (day) DO UPDATE SET orders = orders + 1, revenue = revenue + excluded.revenue`,
        )
        .run(event.time.slice(0, 10), event.data.total);
    },
  },
});
// #endregion daily-sales

const placed = (orderId: string, customerId: string, total: number) => ({
  type: 'OrderPlaced' as const,
  data: { orderId, customerId, total },
});

describe('docs/projections.md', () => {
  it('runs projections asynchronously and waits for a position', async () => {
    const dir = tempDir();
    const filename = dir.file('shop.db');
    // #region open
    const eventStore = openSqliteEventStore({ filename });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary, dailySales] });
    await runner.start();
    // #endregion open
    try {
      // #region wait-for-position
      const { position } = await eventStore.appendToStream<OrderEvent>('order-1', [placed('1', 'ada', 30)]);
      await runner.waitForPosition('order-summary', position, 5_000);
      const order = await readModels.read('order-summary', (view) => view.collection(orders).get('1'));
      // #endregion wait-for-position
      expect(order).toMatchObject({ orderId: '1', customerId: 'ada', total: 30, status: 'placed' });

      // #region find
      await eventStore.appendToStream<OrderEvent>('order-2', [placed('2', 'ada', 12), { type: 'OrderPaid', data: { orderId: '2' } }]);
      const last = await eventStore.appendToStream<OrderEvent>('order-3', [placed('3', 'bob', 7)]);
      await runner.waitForPosition('order-summary', last.position, 5_000);
      const getCustomerOrders = (customerId: string) =>
        readModels.read('order-summary', (view) =>
          view.collection(orders).find({ where: { customerId }, orderBy: [['placedAt', 'desc']], limit: 20 }),
        );
      const adas = await getCustomerOrders('ada'); // newest first, from the byCustomer index
      const open = await readModels.read('order-summary', (view) => view.collection(orders).count({ status: 'placed' }));
      // #endregion find
      expect(adas.map((o) => o.orderId)).toEqual(['2', '1']);
      expect(open).toBe(2);

      await runner.waitForPosition('daily-sales', last.position, 5_000);
      // #region read-sql
      const days = await readModels.read('daily-sales', (view) => view.db.prepare(`SELECT day, orders, revenue FROM ${view.table('days')}`).all());
      // #endregion read-sql
      expect(days).toEqual([{ day: new Date().toISOString().slice(0, 10), orders: 3, revenue: 49 }]);

      // #region lag
      const lag = await runner.lag('order-summary');
      // → { projection: { name: 'order-summary', version: 1, … }, checkpoint, head, events: 0, seconds: 0, failure: null }
      // #endregion lag
      expect(lag).toMatchObject({ events: 0, seconds: 0, failure: null });
      expect(runner.status('order-summary')).toMatchObject({ status: 'live', leading: true, serving: true });
    } finally {
      await runner.stop();
      await eventStore.close();
      dir.remove();
    }
  });

  it('updates inline projections in the append transaction', async () => {
    const dir = tempDir();
    const eventStore = openSqliteEventStore({ filename: dir.file('shop.db') });
    try {
      // #region inline
      const readModels = openSqliteReadModels({ database: eventStore.database });
      addInlineProjection({ eventStore, readModels, projection: orderSummary });

      await eventStore.appendToStream<OrderEvent>('order-7', [placed('7', 'ada', 99)]);
      const order = await readModels.read('order-summary', (view) => view.collection(orders).get('7'));
      // order.status === 'placed': the append's own transaction wrote it
      // #endregion inline
      expect(order?.status).toBe('placed');
    } finally {
      await eventStore.close();
      dir.remove();
    }
  });

  it('stops on a failing handler, visibly, and resumes after the fix', async () => {
    const dir = tempDir();
    const eventStore = openSqliteEventStore({ filename: dir.file('shop.db') });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    let carriers = ['dhl'];
    try {
      // #region failures
      const shipments = defineProjection<OrderEvent>({
        name: 'shipments',
        version: 1,
        failurePolicy: { maxAttempts: 3, retryDelayMs: 10, onFailure: 'stop' }, // or 'dead-letter'
        handlers: {
          OrderShipped: async (event, read) => {
            if (!carriers.includes(event.data.carrier)) throw new Error(`unknown carrier ${event.data.carrier}`);
            await read.collection('shipments').upsert(event.data.orderId, { carrier: event.data.carrier });
          },
        },
      });
      const events: ProjectionRunnerEvent[] = [];
      const runner = new ProjectionRunner({ eventStore, readModels, projections: [shipments], onEvent: (e) => events.push(e) });
      await runner.start();
      const shipped = await eventStore.appendToStream<OrderEvent>('order-8', [{ type: 'OrderShipped', data: { orderId: '8', carrier: 'owl' } }]);

      await expect(runner.waitForPosition('shipments', shipped.position, 5_000)).rejects.toBeInstanceOf(SubscriptionFailedError);
      const { status, failure } = runner.status('shipments');
      // status === 'failed'; failure: { position, eventId, eventType: 'OrderShipped', streamId: 'order-8',
      //   error: 'Error: unknown carrier owl', stack, attempts: 3, failedAt }

      carriers = [...carriers, 'owl']; // the fix
      await runner.restart('shipments'); // resumes from the failed event
      await runner.waitForPosition('shipments', shipped.position, 5_000);
      // #endregion failures
      expect(status).toBe('failed');
      expect(failure).toMatchObject({ eventType: 'OrderShipped', streamId: 'order-8', error: 'Error: unknown carrier owl', attempts: 3 });
      expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2);
      expect(await readModels.read('shipments', (v) => v.collection('shipments').get('8'))).toEqual({ carrier: 'owl' });
      await runner.stop();
    } finally {
      await eventStore.close();
      dir.remove();
    }
  });

  it('rebuilds, switches versions blue/green and replays time ranges', async () => {
    const dir = tempDir();
    const eventStore = openSqliteEventStore({ filename: dir.file('shop.db'), clock: () => new Date('2026-03-15T12:00:00.000Z') });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    const output: string[] = [];
    const stream = new Writable({ write: (chunk, _encoding, done) => (output.push(String(chunk)), done()) });
    try {
      for (let i = 0; i < 20; i++) await eventStore.appendToStream<OrderEvent>(`order-${i}`, [placed(String(i), 'ada', i)]);
      const runner = new ProjectionRunner({ eventStore, readModels, projections: [orderSummary] });
      await runner.start();
      // #region rebuild
      const progress = await runner.rebuild('order-summary', { onProgress: progressBar({ stream }) });
      // progress: { processed, total, eventsPerSecond, etaSeconds, elapsedMs, done: true, … }
      // the bar: order-summary@1 [########################] 100% 20/20 · 9,913 ev/s · done in 0.0 s
      // #endregion rebuild
      expect(progress).toMatchObject({ processed: 20, total: 20, done: true });
      expect(output.join('')).toMatch(/order-summary@1 \[#+\] 100% 20\/20/);

      // #region blue-green
      const orderSummaryV2 = defineProjection<OrderEvent>({
        name: 'order-summary',
        version: 2, // built beside version 1, which serves until version 2 has caught up
        handlers: {
          OrderPlaced: async (event, read) => {
            await read.collection('orders').upsert(event.data.orderId, { ...event.data, status: 'placed', currency: 'EUR' });
          },
        },
      });
      const next = new ProjectionRunner({ eventStore, readModels, projections: [orderSummaryV2] });
      next.onEvent((event) => {
        if (event.type === 'switched') console.log(`${event.projection.namespace} now serves (was version ${event.from})`);
      });
      await next.start();
      // #endregion blue-green
      await expect.poll(() => readModels.read('order-summary', (v) => v.projection.version), { timeout: 10_000 }).toBe(2);
      await expect.poll(() => runner.status('order-summary').status, { timeout: 10_000 }).toBe('superseded');
      expect(await readModels.read('order-summary', (v) => v.collection('orders').get('3'))).toMatchObject({ currency: 'EUR' });
      await next.stop();
      await runner.stop();

      // #region replay
      const marchOrders = defineProjection<OrderEvent>({
        name: 'march-2026-orders',
        version: 1,
        handlers: {
          OrderPlaced: async (event, read) => {
            await read.collection('orders').upsert(event.data.orderId, event.data);
          },
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
      expect(replayed.applied).toBe(20);
    } finally {
      await eventStore.close();
      dir.remove();
    }
  });

  it('specifies projections with given events → then read model', async () => {
    // #region given
    await givenEvents(orderSummary, [
      { streamId: 'order-1', type: 'OrderPlaced', data: { orderId: '1', customerId: 'ada', total: 30 }, time: '2026-03-01T09:00:00.000Z' },
      { streamId: 'order-1', type: 'OrderPaid', data: { orderId: '1' } },
    ]).thenDocuments('orders', {
      '1': { orderId: '1', customerId: 'ada', total: 30, status: 'paid', placedAt: '2026-03-01T09:00:00.000Z' },
    });
    // #endregion given
  });
});
