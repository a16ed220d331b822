/** Eventloom's SQLite store at its default durability, stated explicitly: WAL, synchronous=FULL. */
import { defineProjection, type Event } from '@eventloom/core';
import { addInlineProjection, openSqliteEventStore, openSqliteReadModels, type SqliteProjectionHandle } from '@eventloom/sqlite';
import type { BenchTarget, TargetResource } from '../target.js';
import { INLINE_CATEGORY } from '../workloads/w3i-inline.js';
import { startReadYourWrites } from '../ryw/harness.js';
import { eventloomTarget } from './eventloom-store.js';

type OrderCreated = Event<'OrderCreated', { orderId: string; customerId: string; total: number }>;

/** W3I's projection: a summary row per order in its own table, written (after an await) inside each append's transaction. */
const orderSummaries = defineProjection<OrderCreated, SqliteProjectionHandle>({
  name: 'bench-order-summaries',
  version: 1,
  categories: [INLINE_CATEGORY],
  init: ({ db, table }) => {
    // Keyed by the event: the workload's passes reuse order ids, and each append must leave a row to count.
    db.exec(`CREATE TABLE ${table('summaries')} (event_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, customer_id TEXT NOT NULL, total REAL NOT NULL)`);
  },
  handlers: {
    OrderCreated: async (event, { db, table }) => {
      const { orderId, customerId, total } = event.data;
      db.prepare(`INSERT INTO ${table('summaries')} (event_id, order_id, customer_id, total) VALUES (?, ?, ?, ?)`).run(event.id, orderId, customerId, total);
    },
  },
});

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('eventloom-sqlite needs a SQLite resource');
  const store = openSqliteEventStore({ filename: resource.filename, durability: 'full' });
  const count = store.database.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');
  return {
    ...eventloomTarget(store, async () => count.get()!.n),
    async readYourWrites() {
      const readModels = openSqliteReadModels({ database: store.database });
      const ryw = await startReadYourWrites(resource, store, readModels);
      return {
        appendAndRead: (streamId, n) => ryw.appendAndRead(streamId, n),
        async stop() {
          await ryw.stop();
          await readModels.close();
        },
      };
    },
    async addInlineProjection() {
      const readModels = openSqliteReadModels({ database: store.database });
      const remove = addInlineProjection({ eventStore: store, readModels, projection: orderSummaries });
      return {
        async documents() {
          const table = '"bench-order-summaries@1/summaries"';
          const exists = store.database.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'bench-order-summaries@1/summaries'`).get();
          return exists ? (store.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0;
        },
        // SQLite's inline path has no per-append skip report; the documents check counts what was applied.
        skipped: () => ({ count: 0 }),
        async remove() {
          remove();
        },
      };
    },
  };
}
