/** Eventloom's PostgreSQL store in its own schema, with a pool as large as the raw anchor's. */
import { defineProjection, type Event } from '@eventloom/core';
import { addPostgresInlineProjection, openPostgresEventStore, openPostgresReadModels, type PostgresAppendResult, type PostgresProjectionHandle } from '@eventloom/postgres';
import pg from 'pg';
import type { BenchTarget, TargetResource } from '../target.js';
import { INLINE_CATEGORY, INLINE_DOCUMENT_CATEGORY } from '../workloads/w3i-inline.js';
import { startReadYourWrites } from '../ryw/harness.js';
import { eventloomTarget } from './eventloom-store.js';
import { holdUnrelatedTransaction, oldestOpenTransaction } from './pg-diagnostics.js';

type OrderCreated = Event<'OrderCreated', { orderId: string; customerId: string; total: number }>;

/** The table W3I's projection keeps, as its handle names it (known once the projection is prepared). */
let summaryTable: string | undefined;

/** What W3I keeps inline: a summary row per order, in the projection's own table, as a read-your-writes view would. */
const orderSummaries = defineProjection<OrderCreated, PostgresProjectionHandle>({
  name: 'bench-order-summaries',
  version: 1,
  categories: [INLINE_CATEGORY],
  init: async ({ client, table }) => {
    // Keyed by the event: the workload's passes reuse order ids, and each append must leave a row to count.
    await client.query(`CREATE TABLE ${table('summaries')} (event_id uuid PRIMARY KEY, order_id text NOT NULL, customer_id text NOT NULL, total numeric NOT NULL)`);
  },
  handlers: {
    OrderCreated: async (event, read) => {
      const { orderId, customerId, total } = event.data;
      summaryTable ??= read.table('summaries');
      await read.client.query(
        `INSERT INTO ${summaryTable} (event_id, order_id, customer_id, total) VALUES ($1, $2, $3, $4)`,
        [event.id, orderId, customerId, total],
      );
    },
  },
});

/** W3ID: the same summary, as a document written by the read-model API. */
const orderSummaryDocuments = defineProjection<OrderCreated, PostgresProjectionHandle>({
  name: 'bench-order-summary-documents',
  version: 1,
  categories: [INLINE_DOCUMENT_CATEGORY],
  handlers: {
    OrderCreated: async (event, read) => {
      const { orderId, customerId, total } = event.data;
      await read.collection('summaries').upsert(event.id, { orderId, customerId, total });
    },
  },
});

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'postgres') throw new Error('eventloom-postgres needs a PostgreSQL resource');
  const store = await openPostgresEventStore({
    connectionString: resource.connectionString,
    schema: resource.schema,
    poolSize: resource.poolSize,
  });
  // Counted as the connecting (super)user, past row-level security: what is really in the table.
  const count = async (): Promise<number> => {
    const client = new pg.Client({ connectionString: resource.connectionString });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${resource.schema}".events WHERE NOT tombstoned`);
      return Number(rows[0]!.n);
    } finally {
      await client.end();
    }
  };
  let skipped: { count: number; first?: string } | undefined;
  const base = eventloomTarget(store, count);
  return {
    ...base,
    async append(streamId, events, expectation) {
      const tally = skipped;
      if (tally === undefined) return base.append(streamId, events, expectation);
      return base.append(streamId, events, expectation, (result) => {
        const reasons = (result as PostgresAppendResult).inlineSkipped;
        if (reasons) {
          tally.count++;
          tally.first ??= reasons[0]!.reason;
        }
      });
    },
    holdUnrelatedTransaction: () => holdUnrelatedTransaction(resource.connectionString),
    async addInlineProjection(writes = 'sql') {
      const pool = new pg.Pool({ connectionString: resource.connectionString, max: 2 });
      const readModels = await openPostgresReadModels({ pool, schema: resource.schema });
      const projection = writes === 'sql' ? orderSummaries : orderSummaryDocuments;
      const remove = await addPostgresInlineProjection({ eventStore: store, readModels, projection });
      const tally: { count: number; first?: string } = { count: 0 };
      skipped = tally;
      return {
        async documents() {
          if (writes === 'documents') return readModels.read(projection.namespace.name, (view) => view.collection('summaries').count());
          if (summaryTable === undefined) return 0;
          const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${summaryTable}`);
          return Number(rows[0]!.n);
        },
        skipped: () => ({ ...tally }),
        async remove() {
          skipped = undefined;
          remove();
          await readModels.close();
          await pool.end();
        },
      };
    },
    async readYourWrites() {
      const pool = new pg.Pool({ connectionString: resource.connectionString, max: 4 });
      const readModels = await openPostgresReadModels({ pool, schema: resource.schema });
      const ryw = await startReadYourWrites(resource, store, readModels);
      return {
        appendAndRead: (streamId, n) => ryw.appendAndRead(streamId, n),
        async stop() {
          await ryw.stop();
          await readModels.close();
          await pool.end();
        },
      };
    },
    diagnose: () => oldestOpenTransaction(resource.connectionString),
  };
}
