/** Inline handlers run inside the append's transaction: their writes commit with the events, or neither does. */
import { collect, StoreUnavailableError, type RecordedEvent } from '@eventloom/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteDatabase, type SqliteEventStore } from '../src/index.js';
import { dumpTables } from './dump.js';
import { tempFile, type TempFile } from './temp-file.js';

describe('inline handlers', () => {
  let file: TempFile;
  let store: SqliteEventStore;

  beforeEach(() => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename });
    store.database.exec('CREATE TABLE order_totals (order_id TEXT PRIMARY KEY, total REAL NOT NULL, position INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await store.close();
    file.remove();
  });

  /** A read model kept in the same file: the running total of each order. */
  function totals(events: readonly RecordedEvent[], db: SqliteDatabase): void {
    const upsert = db.prepare(
      'INSERT INTO order_totals VALUES (?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET total = total + excluded.total, position = excluded.position',
    );
    for (const event of events) {
      const { amount } = event.data as { amount: number };
      if (amount < 0) throw new Error(`negative amount in ${event.streamId}`);
      upsert.run(event.streamId, amount, event.position);
    }
  }

  const readTotals = () => store.database.prepare('SELECT order_id, total FROM order_totals ORDER BY order_id').all();

  it('runs inside the transaction, after the events are inserted, with their positions', async () => {
    const seen: { inTransaction: boolean; rows: number; positions: bigint[] }[] = [];
    store.addInlineHandler((events, db) => {
      seen.push({
        inTransaction: db.inTransaction,
        rows: db.prepare('SELECT count(*) FROM events WHERE stream_id = ?').pluck().get(events[0]!.streamId) as number,
        positions: events.map((e) => e.position),
      });
    });
    const result = await store.appendToStream('order-1', [
      { type: 'Paid', data: { amount: 5 } },
      { type: 'Paid', data: { amount: 7 } },
    ]);
    expect(seen).toEqual([{ inTransaction: true, rows: 2, positions: result.events.map((e) => e.position) }]);
  });

  it('commits the read model with the events', async () => {
    store.addInlineHandler(totals);
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]);
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 7 } }]);
    expect(readTotals()).toEqual([{ order_id: 'order-1', total: 12 }]);
  });

  it('rolls the append back, read-model writes included, when the handler throws', async () => {
    store.addInlineHandler(totals);
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]);
    const before = dumpTables(store.database);
    await expect(
      store.appendToStream('order-1', [
        { type: 'Paid', data: { amount: 1 } },
        { type: 'Paid', data: { amount: -1 } },
      ]),
    ).rejects.toThrow('negative amount in order-1');
    expect(dumpTables(store.database)).toBe(before);
    expect((await store.streamInfo('order-1')).version).toBe(1n);
  });

  it('fails only the append whose handler throws; the others in the group commit', async () => {
    store.addInlineHandler(totals);
    const before = store.groupCommitStats.commits;
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]),
      store.appendToStream('order-2', [{ type: 'Paid', data: { amount: -5 } }]),
      store.appendToStream('order-3', [{ type: 'Paid', data: { amount: 3 } }]),
    ]);
    expect(store.groupCommitStats.commits - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(readTotals()).toEqual([
      { order_id: 'order-1', total: 5 },
      { order_id: 'order-3', total: 3 },
    ]);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-3']);
  });

  it('awaits an async handler inside the transaction: appends arriving together still share one commit', async () => {
    store.addInlineHandler(async (events, db) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      totals(events, db);
    });
    const before = store.groupCommitStats.commits;
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]),
      store.appendToStream('order-2', [{ type: 'Paid', data: { amount: -1 } }]),
      store.appendToStream('order-3', [{ type: 'Paid', data: { amount: 3 } }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.groupCommitStats.commits - before).toBe(1);
    expect(readTotals()).toEqual([
      { order_id: 'order-1', total: 5 },
      { order_id: 'order-3', total: 3 },
    ]);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-3']);
  });

  it('stops calling a handler once it is removed', async () => {
    let calls = 0;
    const remove = store.addInlineHandler(() => {
      calls++;
    });
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]);
    remove();
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 5 } }]);
    expect(calls).toBe(1);
  });

  it('rejects every append of the group, and writes none, when COMMIT itself fails', async () => {
    // A deferred foreign key is checked at COMMIT: a real way to make the commit, not an append, fail.
    store.database.pragma('foreign_keys = ON');
    store.database.exec(`
      CREATE TABLE customers (id TEXT PRIMARY KEY);
      CREATE TABLE customer_orders (order_id TEXT PRIMARY KEY,
        customer_id TEXT REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED)`);
    store.addInlineHandler((events, db) => {
      const data = events[0]!.data as { customer?: string };
      if (data.customer) db.prepare('INSERT INTO customer_orders VALUES (?, ?)').run(events[0]!.streamId, data.customer);
    });
    const before = dumpTables(store.database);
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-2', [{ type: 'Placed', data: { customer: 'nobody' } }]),
    ]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(StoreUnavailableError);
      expect(reason.message).toContain('nothing was written');
    }
    expect(dumpTables(store.database)).toBe(before);
    expect(store.database.inTransaction).toBe(false);
    await store.appendToStream('order-3', [{ type: 'Placed', data: {} }]);
    expect((await store.streamInfo('order-3')).version).toBe(1n);
  });
});
