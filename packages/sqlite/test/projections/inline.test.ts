/** Inline projections on SQLite: the read model changes in the append's own transaction. */
import { collect, defineProjection, ProjectionRunner, type Position } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addInlineProjection,
  openSqliteEventStore,
  openSqliteReadModels,
  type SqliteEventStore,
  type SqliteProjectionHandle,
  type SqliteReadModelStore,
} from '../../src/index.js';
import { tempDir } from './temp-dir.js';

const { created, paid, shipped, orderSummaryProjection, ledgerProjection, uniqueOrderStream } = projectionFixtures;
type OrderSummary = projectionFixtures.OrderSummary;
type StreamLedger = projectionFixtures.StreamLedger;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function open(filename?: string): { eventStore: SqliteEventStore; readModels: SqliteReadModelStore; filename: string } {
  let file = filename;
  if (!file) {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    file = dir.file('app.db');
  }
  const eventStore = openSqliteEventStore({ filename: file, durability: 'normal' });
  const readModels = openSqliteReadModels({ database: eventStore.database });
  cleanups.push(() => eventStore.close());
  return { eventStore, readModels, filename: file };
}

function checkpointOf(readModels: SqliteReadModelStore, namespace: string): Promise<Position | null> {
  return readModels.transaction((tx) => tx.getCheckpoint(namespace), { readOnly: true });
}

function orderOf(streamId: string): string {
  return streamId.slice('order-'.length);
}

describe('inline projections (sqlite)', () => {
  it('updates the read model in the append transaction: the caller reads its own write at once', async () => {
    const { eventStore, readModels } = open();
    addInlineProjection({ eventStore, readModels, projection: orderSummaryProjection() });
    const streamId = uniqueOrderStream();
    const id = orderOf(streamId);
    const first = await eventStore.appendToStream(streamId, [created(id, 30)]);
    expect(await readModels.read('order-summary', (v) => v.collection<OrderSummary>('orders').get(id))).toMatchObject({ total: 30, status: 'open' });
    expect(await checkpointOf(readModels, 'order-summary@1')).toBe(first.position);
    const second = await eventStore.appendToStream(streamId, [paid(id, 30), shipped(id)]);
    expect(await readModels.read('order-summary', (v) => v.collection<OrderSummary>('orders').get(id))).toMatchObject({ paid: 30, status: 'shipped' });
    expect(await checkpointOf(readModels, 'order-summary@1')).toBe(second.position);
  });

  it('fails the append when a handler throws: no event and no read-model change', async () => {
    const { eventStore, readModels } = open();
    const projection = defineProjection<projectionFixtures.OrderEvent>({
      name: 'picky',
      version: 1,
      handlers: {
        OrderCreated: async (event, read) => {
          if (event.data.total < 0) throw new RangeError(`negative total on ${event.streamId}`);
          await read.collection<{ total: number }>('orders').upsert(event.data.orderId, { total: event.data.total });
        },
      },
    });
    addInlineProjection({ eventStore, readModels, projection });
    const good = uniqueOrderStream();
    const ok = await eventStore.appendToStream(good, [created(orderOf(good), 5)]);
    const bad = uniqueOrderStream();
    await expect(eventStore.appendToStream(bad, [created(orderOf(bad), -1)])).rejects.toThrow(RangeError);
    expect(await collect(eventStore.readStream(bad))).toEqual([]);
    expect(await readModels.read('picky', (v) => v.collection('orders').get(orderOf(bad)))).toBeNull();
    expect(await checkpointOf(readModels, 'picky@1')).toBe(ok.position);
  });

  it('group commit: a failing append in the group leaves the others applied', async () => {
    const { eventStore, readModels } = open();
    const ledger = ledgerProjection({
      hook: (event) => {
        if (event.type === 'OrderShipped') throw new Error('shipping not allowed here');
      },
    });
    addInlineProjection({ eventStore, readModels, projection: ledger });
    const streams = Array.from({ length: 20 }, () => uniqueOrderStream());
    const results = await Promise.allSettled(
      streams.map((streamId, i) => eventStore.appendToStream(streamId, i === 7 ? [created(orderOf(streamId)), shipped(orderOf(streamId))] : [created(orderOf(streamId)), paid(orderOf(streamId))])),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[7]!.status).toBe('rejected');
    expect(eventStore.groupCommitStats.largestGroup).toBeGreaterThan(1);
    const ledgers = await readModels.read('ledger', (v) => v.collection<StreamLedger>('ledgers').find());
    expect(ledgers).toHaveLength(19);
    expect(ledgers.every((l) => l.count === 2 && l.gaps === 0)).toBe(true);
    expect(await checkpointOf(readModels, 'ledger@1')).toBe(await eventStore.headPosition());
  });

  it('defers to the runner when events came before it, then takes over again', async () => {
    const { eventStore, readModels } = open();
    const history = await projectionFixtures.appendOrders(eventStore, 5);
    const projection = orderSummaryProjection();
    addInlineProjection({ eventStore, readModels, projection });
    const streamId = uniqueOrderStream();
    await eventStore.appendToStream(streamId, [created(orderOf(streamId), 7)]);
    // Behind: the inline path must not apply on top of a checkpoint that skipped the history.
    expect(await readModels.read('order-summary', (v) => v.collection('orders').count())).toBe(0);
    expect(await checkpointOf(readModels, 'order-summary@1')).toBeNull();

    const runner = new ProjectionRunner({ eventStore, readModels, projections: [projection], pollIntervalMs: 20 });
    cleanups.push(() => runner.stop());
    await runner.start();
    await runner.waitForPosition('order-summary', await eventStore.headPosition(), 10_000);
    expect(await readModels.read('order-summary', (v) => v.collection('orders').count())).toBe(history.streams.length + 1);
    await runner.stop();

    const next = uniqueOrderStream();
    const appended = await eventStore.appendToStream(next, [created(orderOf(next), 8)]);
    expect(await readModels.read('order-summary', async (v) => (await v.collection<OrderSummary>('orders').get(orderOf(next)))?.total)).toBe(8);
    expect(await checkpointOf(readModels, 'order-summary@1')).toBe(appended.position);
  });

  it('another process appending without the projection makes it defer until the runner catches up', async () => {
    const first = open();
    const projection = ledgerProjection();
    addInlineProjection({ eventStore: first.eventStore, readModels: first.readModels, projection });
    const a = uniqueOrderStream();
    await first.eventStore.appendToStream(a, [created(orderOf(a))]);
    // A second connection to the same file, as another process would have, without the inline projection.
    const other = open(first.filename);
    const b = uniqueOrderStream();
    await other.eventStore.appendToStream(b, [created(orderOf(b))]);
    const c = uniqueOrderStream();
    await first.eventStore.appendToStream(c, [created(orderOf(c))]);
    const seen = (): Promise<string[]> =>
      first.readModels.read('ledger', async (v) => (await v.collection<StreamLedger>('ledgers').find()).map((l) => l.streamId));
    expect(await seen()).toEqual([a]);

    const runner = new ProjectionRunner({ eventStore: first.eventStore, readModels: first.readModels, projections: [projection], pollIntervalMs: 20 });
    cleanups.push(() => runner.stop());
    await runner.start();
    await runner.waitForPosition('ledger', await first.eventStore.headPosition(), 10_000);
    expect((await seen()).sort()).toEqual([a, b, c].sort());
    const d = uniqueOrderStream();
    await first.eventStore.appendToStream(d, [created(orderOf(d))]);
    expect(await seen()).toContain(d);
    const ledgers = await first.readModels.read('ledger', (v) => v.collection<StreamLedger>('ledgers').find());
    expect(ledgers.every((l) => l.count === 1 && l.gaps === 0)).toBe(true);
  });

  it('plain SQL in its own tables, created by init; a new version gets new tables', async () => {
    const { eventStore, readModels } = open();
    const totals = (version: number) =>
      defineProjection<projectionFixtures.OrderEvent, SqliteProjectionHandle>({
        name: 'customer-totals',
        version,
        init: (read) => {
          read.db.exec(`CREATE TABLE ${read.table('totals')} (customer TEXT PRIMARY KEY, total REAL NOT NULL, orders INTEGER NOT NULL)`);
        },
        handlers: {
          OrderCreated: (event, read) => {
            read.db
              .prepare(
                `INSERT INTO ${read.table('totals')} (customer, total, orders) VALUES (?, ?, 1)
                 ON CONFLICT (customer) DO UPDATE SET total = total + excluded.total, orders = orders + 1`,
              )
              .run(event.data.customerId, event.data.total * version);
          },
        },
      });
    addInlineProjection({ eventStore, readModels, projection: totals(1) });
    for (const [customer, total] of [['alice', 10], ['bob', 5], ['alice', 2.5]] as const) {
      const streamId = uniqueOrderStream();
      await eventStore.appendToStream(streamId, [created(orderOf(streamId), total, customer)]);
    }
    const query = (version?: number) =>
      readModels.read(version ? { name: 'customer-totals', version } : 'customer-totals', (v) =>
        v.db.prepare(`SELECT customer, total, orders FROM ${v.table('totals')} ORDER BY customer`).all(),
      );
    expect(await query()).toEqual([
      { customer: 'alice', total: 12.5, orders: 2 },
      { customer: 'bob', total: 5, orders: 1 },
    ]);

    const runner = new ProjectionRunner<SqliteProjectionHandle>({ eventStore, readModels, projections: [totals(2)], pollIntervalMs: 20 });
    cleanups.push(() => runner.stop());
    await runner.start();
    await runner.waitForPosition('customer-totals', await eventStore.headPosition(), 10_000);
    await expect.poll(() => readModels.read('customer-totals', (v) => v.projection.version), { timeout: 10_000 }).toBe(2);
    expect(await query()).toEqual([
      { customer: 'alice', total: 25, orders: 2 },
      { customer: 'bob', total: 10, orders: 1 },
    ]);
    expect(await query(1)).toHaveLength(2);

    // A rebuild drops the version's own tables and runs init again.
    await runner.rebuild('customer-totals');
    expect(await query()).toEqual([
      { customer: 'alice', total: 25, orders: 2 },
      { customer: 'bob', total: 10, orders: 1 },
    ]);
  });
});
