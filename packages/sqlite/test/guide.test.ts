/**
 * The examples of docs/sqlite-event-store.md, as tests: the guide shows the regions marked
 * `#region name` below, and docs-snippets.test.ts checks that it shows them unchanged.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { collect, defineCollection, defineProjection, StoreBusyError, WrongExpectedVersionError, type Event, type RecordedEvent } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { addInlineProjection, openSqliteEventStore, openSqliteReadModels, type SqliteDatabase, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

type CartEvent =
  | Event<'ItemAdded', { sku: string; quantity: number; price: number }>
  | Event<'ItemRemoved', { sku: string }>
  | Event<'CheckedOut', { at: string }>;

describe('guide: the SQLite event store', () => {
  let file: TempFile;
  let store: SqliteEventStore;
  afterEach(async () => {
    await store?.close();
    file.remove();
  });

  it('runs the example of the README', async () => {
    file = tempFile('shop.db');
    const logged: unknown[] = [];
    const console = { log: (...values: unknown[]) => logged.push(values) };
    // The README opens 'shop.db' in the working directory: make that the test's own folder for a moment.
    const cwd = process.cwd();
    process.chdir(dirname(file.filename));
    try {
      // #region readme
      const store = openSqliteEventStore({ filename: 'shop.db' });
      await store.appendToStream('cart-42', [{ type: 'ItemAdded', data: { sku: 'tea', quantity: 2 } }], {
        expectedVersion: 'no_stream',
      });
      for await (const event of store.readStream('cart-42')) console.log(event.type, event.data);
      await store.close();
      // #endregion readme
    } finally {
      process.chdir(cwd);
    }
    expect(logged).toEqual([['ItemAdded', { sku: 'tea', quantity: 2 }]]);
    expect(existsSync(file.filename)).toBe(true);
  });

  it('opens a file, appends with an expected version, reads a stream back', async () => {
    file = tempFile('shop.db');
    const filename = file.filename;
    // #region open
    const store = openSqliteEventStore({ filename, source: 'cart-service' });
    // #endregion open

    // #region append
    const first = await store.appendToStream<CartEvent>(
      'cart-42',
      [{ type: 'ItemAdded', data: { sku: 'tea', quantity: 2, price: 4.5 } }],
      { expectedVersion: 'no_stream' },
    );
    await store.appendToStream<CartEvent>('cart-42', [{ type: 'ItemAdded', data: { sku: 'mug', quantity: 1, price: 9 } }], {
      expectedVersion: first.nextExpectedVersion,
    });
    // #endregion append

    // #region read-stream
    let total = 0;
    for await (const event of store.readStream<CartEvent>('cart-42')) {
      if (event.type === 'ItemAdded') total += event.data.quantity * event.data.price;
    }
    // #endregion read-stream
    expect(total).toBe(18);

    // #region conflict
    const stale = store.appendToStream<CartEvent>('cart-42', [{ type: 'CheckedOut', data: { at: '2026-01-01' } }], {
      expectedVersion: first.nextExpectedVersion, // someone appended since
    });
    await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
    // #endregion conflict
    await store.close();
  });

  it('keeps a read model in the same file, in the same transaction as the events', async () => {
    file = tempFile('shop.db');
    store = openSqliteEventStore({ filename: file.filename });
    // #region inline-projection
    store.database.exec(`CREATE TABLE IF NOT EXISTS cart_items (
      cart_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL, PRIMARY KEY (cart_id, sku))`);

    function cartItems(events: readonly RecordedEvent[], db: SqliteDatabase): void {
      for (const event of events as readonly RecordedEvent<CartEvent>[]) {
        if (event.type === 'ItemAdded') {
          db.prepare(
            `INSERT INTO cart_items VALUES (?, ?, ?)
             ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = quantity + excluded.quantity`,
          ).run(event.streamId, event.data.sku, event.data.quantity);
        } else if (event.type === 'ItemRemoved') {
          db.prepare('DELETE FROM cart_items WHERE cart_id = ? AND sku = ?').run(event.streamId, event.data.sku);
        }
      }
    }
    const stopProjecting = store.addInlineHandler(cartItems);
    // #endregion inline-projection

    await store.appendToStream<CartEvent>('cart-7', [
      { type: 'ItemAdded', data: { sku: 'tea', quantity: 2, price: 4.5 } },
      { type: 'ItemAdded', data: { sku: 'tea', quantity: 1, price: 4.5 } },
      { type: 'ItemAdded', data: { sku: 'mug', quantity: 1, price: 9 } },
      { type: 'ItemRemoved', data: { sku: 'mug' } },
    ]);
    // #region read-your-writes
    const items = store.database.prepare('SELECT sku, quantity FROM cart_items WHERE cart_id = ?').all('cart-7');
    // #endregion read-your-writes
    expect(items).toEqual([{ sku: 'tea', quantity: 3 }]);
    stopProjecting();
  });

  it('keeps an inline projection with async handlers and a declared index, read your writes from anywhere', async () => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename });
    const lookUpPrice = async (sku: string): Promise<number> => (sku === 'tea' ? 4.5 : 9);
    // #region async-inline
    interface CartLine {
      cartId: string;
      sku: string;
      quantity: number;
      amount: number;
      addedAt: string;
    }
    const cartLines = defineCollection<CartLine>('cart-lines', { indexes: { byCart: ['cartId', 'addedAt'] } });

    const cartView = defineProjection<CartEvent>({
      name: 'cart-view',
      version: 1,
      collections: [cartLines], // its index is created when this version is prepared
      handlers: {
        ItemAdded: async (event, { collection }) => {
          const price = await lookUpPrice(event.data.sku); // awaiting inside the append's transaction is fine
          const id = `${event.streamId}/${event.data.sku}`;
          const line = await collection(cartLines).get(id);
          await collection(cartLines).upsert(id, {
            cartId: event.streamId,
            sku: event.data.sku,
            quantity: (line?.quantity ?? 0) + event.data.quantity,
            amount: ((line?.quantity ?? 0) + event.data.quantity) * price,
            addedAt: line?.addedAt ?? event.time,
          });
        },
        ItemRemoved: async (event, { collection }) => {
          await collection(cartLines).delete(`${event.streamId}/${event.data.sku}`);
        },
      },
    });
    const readModels = openSqliteReadModels({ database: store.database });
    addInlineProjection({ eventStore: store, readModels, projection: cartView });
    // #endregion async-inline
    await store.appendToStream<CartEvent>('cart-8', [{ type: 'ItemAdded', data: { sku: 'mug', quantity: 1, price: 9 } }]);
    const { position } = await store.appendToStream<CartEvent>('cart-8', [{ type: 'ItemAdded', data: { sku: 'tea', quantity: 2, price: 4.5 } }]);
    // #region query
    const lines = await readModels.read('cart-view', (view) =>
      view.collection(cartLines).find({ where: { cartId: 'cart-8' }, orderBy: [['addedAt', 'desc']], limit: 50 }),
    );
    // #endregion query
    expect(lines.map((line) => [line.sku, line.amount])).toEqual([
      ['tea', 9],
      ['mug', 9],
    ]);
    // #region wait-for-position
    // In a web process that runs no projection: wait until whoever runs it has applied `position`.
    const web = openSqliteReadModels({ filename: file.filename });
    await web.waitForPosition('cart-view', position, { timeoutMs: 5_000 });
    const count = await web.read('cart-view', (view) => view.collection(cartLines).count({ cartId: 'cart-8' }));
    // #endregion wait-for-position
    expect(count).toBe(2);
    await web.close();
  });

  it('feeds an async projection from a checkpointed subscription', async () => {
    file = tempFile('shop.db');
    store = openSqliteEventStore({ filename: file.filename });
    await store.appendToStream<CartEvent>('cart-1', [{ type: 'CheckedOut', data: { at: '2026-01-01' } }]);
    const last = await store.appendToStream<CartEvent>('cart-2', [{ type: 'CheckedOut', data: { at: '2026-01-02' } }]);
    const checkedOut: string[] = [];
    // #region subscribe
    const subscription = store.subscribe<CartEvent>({
      subscriptionId: 'checkout-emails',
      filter: { streamPrefixes: ['cart-'], eventTypes: ['CheckedOut'] },
      handler: async (event) => {
        checkedOut.push(event.streamId); // e.g. send the receipt
      },
    });
    // #endregion subscribe
    await subscription.waitFor(last.position, 10_000);
    await subscription.stop();
    expect(checkedOut).toEqual(['cart-1', 'cart-2']);
    expect(await store.checkpoints.load('checkout-emails')).toBe(last.position);
  });

  it('loads a long stream from its snapshot', async () => {
    file = tempFile('shop.db');
    store = openSqliteEventStore({ filename: file.filename });
    for (let i = 0; i < 30; i++) {
      await store.appendToStream<CartEvent>('cart-9', [{ type: 'ItemAdded', data: { sku: `sku-${i}`, quantity: 1, price: 1 } }]);
    }
    // #region snapshots
    async function itemCount(cartId: string): Promise<number> {
      const snapshot = await store.snapshots.load<{ count: number }>(cartId);
      let count = snapshot?.state.count ?? 0;
      let version = snapshot?.version ?? 0n;
      for await (const event of store.readStream<CartEvent>(cartId, { fromVersion: version + 1n })) {
        if (event.type === 'ItemAdded') count++;
        version = event.streamVersion;
      }
      await store.snapshots.save({ streamId: cartId, version, schemaVersion: 1, state: { count }, time: new Date().toISOString() });
      return count;
    }
    // #endregion snapshots
    expect(await itemCount('cart-9')).toBe(30);
    await store.appendToStream<CartEvent>('cart-9', [{ type: 'ItemAdded', data: { sku: 'x', quantity: 1, price: 1 } }]);
    expect(await itemCount('cart-9')).toBe(31);
    expect(await store.snapshots.load('cart-9')).toMatchObject({ version: 31n, state: { count: 31 } });
  });

  it('trades durability for speed only when asked', async () => {
    file = tempFile('cache.db');
    const filename = file.filename;
    // #region durability
    // A cache you can rebuild: losing the last commits to a power cut is acceptable.
    const cache = openSqliteEventStore({ filename, durability: 'normal' });
    // #endregion durability
    store = cache;
    expect(cache.database.pragma('synchronous', { simple: true })).toBe(1);
    expect(await collect(cache.readAll())).toEqual([]);
  });

  it('waits for other processes only as long as told, never blocking the event loop', async () => {
    file = tempFile('shared.db');
    const filename = file.filename;
    // #region busy-timeout
    // Another process may hold the write lock: wait up to 2 s for it (on timers), then StoreBusyError.
    const shared = openSqliteEventStore({ filename, busyTimeoutMs: 2_000 });
    try {
      await shared.appendToStream('report-1', [{ type: 'ReportFiled', data: {} }]);
    } catch (error) {
      if (error instanceof StoreBusyError) console.warn(`still locked after ${error.waitedMs} ms; nothing was written`);
      else throw error;
    }
    // #endregion busy-timeout
    store = shared;
    expect(shared.database.pragma('busy_timeout', { simple: true })).toBe(0);
    expect((await shared.streamInfo('report-1')).version).toBe(1n);
  });
});
