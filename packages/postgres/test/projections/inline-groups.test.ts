/**
 * Inline projections in group commit: appends made while another is in flight share one
 * transaction with their inline projections' work (one state lock and one checkpoint write per
 * group), yet each answers as if alone — a handler that fails on one append fails that append
 * alone, with nothing of it written, and the others commit with their read-model rows.
 */
import { defineProjection, StoreUnavailableError, WrongExpectedVersionError } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { addPostgresInlineProjection, type PostgresProjectionHandle } from '../../src/index.js';
import { openTestStores, ownerPool, postgresUrl, type TestStores } from './support.js';

type OrderEvent = projectionFixtures.OrderEvent;
const { created, paid, uniqueOrderStream } = projectionFixtures;

interface Summary {
  orderId: string;
  total: number;
  paid: number;
}

/** Documents and plain SQL; each event's row records the transaction it was written in. */
const orderTotals = defineProjection<OrderEvent, PostgresProjectionHandle>({
  name: 'group-totals',
  version: 1,
  init: async ({ client, table }) => {
    await client.query(`CREATE TABLE ${table('applied')} (event_id uuid PRIMARY KEY, xid text NOT NULL DEFAULT pg_current_xact_id()::text)`);
  },
  handlers: {
    OrderCreated: async (event, read) => {
      await read.collection<Summary>('orders').upsert(event.data.orderId, { orderId: event.data.orderId, total: event.data.total, paid: 0 });
      await read.client.query(`INSERT INTO ${read.table('applied')} (event_id) VALUES ($1)`, [event.id]);
    },
    OrderPaid: async (event, read) => {
      if (event.data.amount < 0) throw new Error(`negative payment on ${event.data.orderId}`);
      // A SQL error of the handler's own.
      if (event.data.amount === 1000) await read.client.query('SELECT 1 / 0');
      await read.collection<Summary>('orders').update(event.data.orderId, (order) => ({ ...order, paid: order.paid + event.data.amount }));
      await read.client.query(`INSERT INTO ${read.table('applied')} (event_id) VALUES ($1)`, [event.id]);
    },
  },
});

/** Document upserts only, read back in the same handler: what is held back is seen by the transaction's own reads. */
const ledger = defineProjection<OrderEvent, PostgresProjectionHandle>({
  name: 'group-ledger',
  version: 1,
  handlers: {
    OrderCreated: async (event, read) => {
      const entries = read.collection<{ orderId: string; n: number }>('entries');
      const { orderId } = event.data;
      await entries.upsert(`${orderId}-a`, { orderId, n: 1 });
      await entries.upsert(`${orderId}-b`, { orderId, n: 2 });
      await entries.upsert(`${orderId}-a`, { orderId, n: 3 });
      const seen = await entries.find({ where: { orderId } });
      if (seen.length !== 2 || (await entries.get(`${orderId}-a`))?.n !== 3) throw new Error(`own writes unseen: ${JSON.stringify(seen)}`);
      if (!(await entries.delete(`${orderId}-b`))) throw new Error('the held-back document was not there to delete');
      await entries.upsert(`${orderId}-c`, { orderId, n: await entries.count({ orderId }) });
    },
  },
});

describe.skipIf(!postgresUrl)('inline projections in group commit (postgres)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const stores = async (): Promise<TestStores> => {
    const s = await openTestStores();
    cleanups.push(() => s.cleanup());
    return s;
  };
  const orders = (readModels: TestStores['readModels'], ids: readonly string[]): Promise<(Summary | null)[]> =>
    readModels.read('group-totals', (view) => Promise.all(ids.map((id) => view.collection<Summary>('orders').get(id))));
  const checkpoint = async (readModels: TestStores['readModels']): Promise<bigint | null | undefined> =>
    (await readModels.listProjections()).find((p) => p.projection.namespace === 'group-totals@1')?.checkpoint;

  it('groups concurrent appends with their projection work; a failing handler fails only its own append', async () => {
    const { eventStore, readModels } = await stores();
    await addPostgresInlineProjection({ eventStore, readModels, projection: orderTotals });
    const streams = Array.from({ length: 16 }, () => uniqueOrderStream());
    const ids = streams.map((s) => s.slice('order-'.length));
    await Promise.all(streams.map((s, i) => eventStore.appendToStream(s, [created(ids[i]!, 100)])));
    // 2 and 9 fail in their handlers (a thrown error, a SQL error), 5 on its expected version.
    const amount = (i: number): number => (i === 2 ? -1 : i === 9 ? 1000 : i + 1);
    const outcomes = await Promise.allSettled(
      streams.map((s, i) => eventStore.appendToStream(s, [paid(ids[i]!, amount(i))], { expectedVersion: i === 5 ? 7n : 1n })),
    );

    const failures = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as unknown) : undefined));
    expect(failures[2]).toBeInstanceOf(Error);
    expect((failures[2] as Error).message).toBe(`negative payment on ${ids[2]}`);
    expect(failures[9]).toBeInstanceOf(StoreUnavailableError);
    expect((failures[9] as StoreUnavailableError).cause).toMatchObject({ code: '22012' });
    expect(failures[5]).toBeInstanceOf(WrongExpectedVersionError);
    const failed = new Set([2, 5, 9]);
    for (const [i, outcome] of outcomes.entries()) {
      if (failed.has(i)) continue;
      expect(outcome.status).toBe('fulfilled');
      if (outcome.status === 'fulfilled') expect(outcome.value.inlineSkipped).toBeUndefined();
    }

    // Nothing of the failed appends is written, events or read model; every other one is, once.
    for (const i of failed) expect((await eventStore.streamInfo(streams[i]!)).version).toBe(1n);
    const summaries = await orders(readModels, ids);
    summaries.forEach((summary, i) => expect(summary).toEqual({ orderId: ids[i], total: 100, paid: failed.has(i) ? 0 : i + 1 }));
    expect(await checkpoint(readModels)).toBe(await eventStore.headPosition());

    const { rows } = await readModels.read('group-totals', (view) =>
      view.pool.query<{ n: string; xids: string }>(`SELECT count(*) AS n, count(DISTINCT xid) AS xids FROM ${view.table('applied')}`),
    );
    expect(Number(rows[0]!.n)).toBe(16 + 13);
    // Appends that waited for one in flight went together: fewer transactions than appends.
    expect(Number(rows[0]!.xids)).toBeLessThan(16 + 13);
    const positions: bigint[] = [];
    for await (const event of eventStore.readAll()) positions.push(event.position);
    expect(positions).toEqual(positions.map((_, i) => positions[0]! + BigInt(i)));
  });

  it('a group whose projection is behind goes through, and each append it handles says it was skipped', async () => {
    const { eventStore, readModels } = await stores();
    await projectionFixtures.appendOrders(eventStore, 3);
    await addPostgresInlineProjection({ eventStore, readModels, projection: orderTotals });
    const before = await checkpoint(readModels);
    const streams = Array.from({ length: 12 }, () => uniqueOrderStream());
    const results = await Promise.all(
      streams.map((s, i) =>
        // Some appends are none of its business: those say nothing.
        i % 4 === 3
          ? eventStore.appendToStream(`other-${s}`, [{ type: 'Unrelated', data: {} }])
          : eventStore.appendToStream(s, [created(s.slice('order-'.length), 5)]),
      ),
    );
    results.forEach((result, i) => {
      if (i % 4 === 3) expect(result.inlineSkipped).toBeUndefined();
      else expect(result.inlineSkipped).toEqual([{ handler: 'group-totals@1', reason: expect.stringContaining('is behind') }]);
    });
    expect(await readModels.read('group-totals', (view) => view.collection('orders').count())).toBe(0);
    expect(await checkpoint(readModels)).toBe(before);
  });

  it('moves the checkpoint to the last append it handles in the group, not past appends it does not', async () => {
    const { eventStore, readModels } = await stores();
    await addPostgresInlineProjection({ eventStore, readModels, projection: orderTotals });
    const streams = Array.from({ length: 10 }, () => uniqueOrderStream());
    const results = await Promise.all(
      streams.map((s, i) =>
        i >= 7
          ? eventStore.appendToStream(`other-${s}`, [{ type: 'Unrelated', data: {} }])
          : eventStore.appendToStream(s, [created(s.slice('order-'.length), 5)]),
      ),
    );
    const lastHandled = results
      .filter((_, i) => i < 7)
      .map((r) => r.position)
      .reduce((a, b) => (a > b ? a : b));
    expect(await checkpoint(readModels)).toBe(lastHandled);
    expect(await readModels.read('group-totals', (view) => view.collection('orders').count())).toBe(7);
    // The next append it handles sees no unseen events of its own below it, and applies.
    const next = uniqueOrderStream();
    const result = await eventStore.appendToStream(next, [created(next.slice('order-'.length), 1)]);
    expect(result.inlineSkipped).toBeUndefined();
    expect(await checkpoint(readModels)).toBe(result.position);
  });

  it('document upserts held back until a read or the end see their own writes, and a failure when sent fails only its append', async () => {
    const { eventStore, readModels, schema } = await stores();
    await addPostgresInlineProjection({ eventStore, readModels, projection: ledger });
    const streams = Array.from({ length: 12 }, () => uniqueOrderStream());
    const ids = streams.map((s) => s.slice('order-'.length));
    // The database refuses one document the document API accepts: found only when the group's upserts are sent.
    const admin = ownerPool();
    cleanups.push(() => admin.end());
    await admin.query(`ALTER TABLE "${schema}".rm_documents ADD CONSTRAINT refuse_one CHECK (id <> $$${ids[4]}-c$$)`);
    const outcomes = await Promise.allSettled(streams.map((s, i) => eventStore.appendToStream(s, [created(ids[i]!, 1)])));
    outcomes.forEach((outcome, i) => expect(outcome.status).toBe(i === 4 ? 'rejected' : 'fulfilled'));
    const failure = (outcomes[4] as PromiseRejectedResult).reason as unknown;
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).cause).toMatchObject({ code: '23514' });
    expect((await eventStore.streamInfo(streams[4]!)).version).toBe(0n);
    const entries = await readModels.read('group-ledger', (view) =>
      Promise.all(ids.map((id) => view.collection<{ orderId: string; n: number }>('entries').find({ where: { orderId: id }, orderBy: ['n'] }))),
    );
    entries.forEach((found, i) => expect(found.map((e) => e.n)).toEqual(i === 4 ? [] : [1, 3]));
    expect((await readModels.listProjections()).find((p) => p.projection.namespace === 'group-ledger@1')?.checkpoint).toBe(
      await eventStore.headPosition(),
    );
  });

  it("clears a runner's recorded failure once the checkpoint passes it, as a runner's batch does", async () => {
    const { eventStore, readModels } = await stores();
    await addPostgresInlineProjection({ eventStore, readModels, projection: orderTotals });
    const first = uniqueOrderStream();
    const at = (await eventStore.appendToStream(first, [created(first.slice('order-'.length), 1)])).position;
    const failure = { position: at + 1n, eventId: crypto.randomUUID(), eventType: 'OrderPaid', streamId: first, error: 'Error: x', stack: null, attempts: 1 };
    await readModels.transaction((tx) => tx.setFailure('group-totals@1', { ...failure, failedAt: new Date().toISOString() }));
    const state = async () => (await readModels.listProjections()).find((p) => p.projection.namespace === 'group-totals@1');
    expect((await state())?.failure?.position).toBe(at + 1n);
    const streams = Array.from({ length: 6 }, () => uniqueOrderStream());
    await Promise.all(streams.map((s) => eventStore.appendToStream(s, [created(s.slice('order-'.length), 2)])));
    expect((await state())?.failure).toBeNull();
    expect((await state())?.checkpoint).toBe(await eventStore.headPosition());
  });
});
