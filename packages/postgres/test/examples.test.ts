/**
 * The examples of docs/postgres-event-store.md and the package README, run as tests so that they
 * cannot drift. Each `#region` is quoted in the docs.
 */
import { collect, StoreUnavailableError, uuidv7, WrongExpectedVersionError, type Event } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, postgresUrl, uniqueSchema } from './support.js';
import { dropPostgresEventStore } from '../src/index.js';

type OrderEvent = Event<'OrderPlaced', { orderId: string; total: number }> | Event<'OrderPaid', { orderId: string; amount: number }>;

describe.skipIf(!postgresUrl)('documentation examples', () => {
  const schema = uniqueSchema('docs');
  let store: PostgresEventStore;
  beforeAll(async () => {
    // #region open
    store = await openPostgresEventStore({
      connectionString, // e.g. process.env.DATABASE_URL
      schema, // default 'eventloom'; created and migrated on open
      poolSize: 4, // default 10
    });
    // #endregion open
  });
  afterAll(async () => {
    await store?.close();
    await dropPostgresEventStore({ connectionString, schema });
  });

  it('appends and reads a stream, and the global log', async () => {
    // #region append-read
    const placed = await store.appendToStream<OrderEvent>(
      'order-42',
      [{ type: 'OrderPlaced', data: { orderId: '42', total: 30 } }],
      { expectedVersion: 'no_stream' },
    );
    await store.appendToStream<OrderEvent>('order-42', [{ type: 'OrderPaid', data: { orderId: '42', amount: 30 } }], {
      expectedVersion: placed.nextExpectedVersion,
    });
    const history = await collect(store.readStream<OrderEvent>('order-42'));
    // history.map((e) => e.type) → ['OrderPlaced', 'OrderPaid']
    const orders = await collect(store.readCategory('order'));
    // every event of every order-… stream, in global (commit-safe) order
    // #endregion append-read
    expect(history.map((e) => e.type)).toEqual(['OrderPlaced', 'OrderPaid']);
    expect(orders.map((e) => e.streamVersion)).toEqual([1n, 2n]);
    await expect(
      store.appendToStream('order-42', [{ type: 'OrderPaid', data: {} }], { expectedVersion: 1n }),
    ).rejects.toBeInstanceOf(WrongExpectedVersionError);
  });

  it('subscribes with a stored checkpoint', async () => {
    const handled: string[] = [];
    // #region subscribe
    const subscription = store.subscribe<OrderEvent>({
      subscriptionId: 'order-emails', // the checkpoint is kept in the store's checkpoints table
      filter: { streamPrefixes: ['order-'], eventTypes: ['OrderPaid'] },
      handler: async (event) => {
        handled.push(event.data.orderId); // e.g. send the receipt
      },
    });
    // …later: await subscription.stop();
    // #endregion subscribe
    try {
      const result = await store.appendToStream('order-43', [
        { type: 'OrderPlaced', data: { orderId: '43', total: 5 } },
        { type: 'OrderPaid', data: { orderId: '43', amount: 5 } },
      ]);
      await subscription.waitFor(result.position, 10_000);
      expect(handled).toEqual(['42', '43']);
    } finally {
      await subscription.stop();
    }
    expect(await store.checkpoints.load('order-emails')).toBe(subscription.position);
  });

  it('shares a subscription across a consumer group', async () => {
    const handled = new Map<string, number>();
    // #region consumer-group
    const member = store.subscribeGroup<OrderEvent>({
      group: 'invoicing', // members of the same group share the work
      partitions: 8, // streams are split by hash(streamId) mod 8; every member must agree
      leaseMs: 10_000, // a dead member's partitions are taken over after this
      handler: async (event, { partition }) => {
        handled.set(event.id, partition); // one member at a time per stream, in stream order
      },
    });
    // in each process: the same call; on shutdown: await member.stop();
    // #endregion consumer-group
    try {
      const deadline = Date.now() + 10_000;
      while (handled.size < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handled.size).toBe(4);
    } finally {
      await member.stop();
    }
  });

  it('keeps tenants apart', async () => {
    // #region tenants
    const acme = await openPostgresEventStore({ connectionString, schema, tenantId: 'acme', poolSize: 2 });
    const globex = await openPostgresEventStore({ connectionString, schema, tenantId: 'globex', poolSize: 2 });
    await acme.appendToStream('order-1', [{ type: 'OrderPlaced', data: { orderId: '1', total: 9 } }]);
    const seenByGlobex = await collect(globex.readStream('order-1')); // [] — row-level security hides acme's rows
    // #endregion tenants
    expect(seenByGlobex).toEqual([]);
    expect(await collect(acme.readStream('order-1'))).toHaveLength(1);
    await acme.close();
    await globex.close();
  });

  it('updates a read model in the append transaction', async () => {
    const admin = await adminClient();
    await admin.query(`CREATE TABLE "${schema}".order_totals (order_id text PRIMARY KEY, total numeric NOT NULL)`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON "${schema}".order_totals TO "${schema}_app"`);
    await admin.end();
    // #region inline-handler
    const stopInline = store.addInlineHandler(async (events, client) => {
      for (const event of events) {
        if (event.type !== 'OrderPlaced') continue;
        const { orderId, total } = event.data as { orderId: string; total: number };
        // Same transaction as the append: both commit, or neither does.
        await client.query(`INSERT INTO "${schema}".order_totals (order_id, total) VALUES ($1, $2)`, [orderId, total]);
      }
    });
    // #endregion inline-handler
    try {
      await store.appendToStream('order-44', [{ type: 'OrderPlaced', data: { orderId: '44', total: 12 } }]);
      const { rows } = await store.pool.query(`SELECT total FROM "${schema}".order_totals WHERE order_id = '44'`);
      expect(rows).toEqual([{ total: '12' }]);
    } finally {
      stopInline();
    }
  });

  it('retries an append whose outcome a lost connection left unknown', async () => {
    // #region retry-unknown
    const events = [{ id: uuidv7(), type: 'OrderPlaced', data: { orderId: '45', total: 3 } }]; // ids fixed up front
    const appendOnce = () => store.appendToStream('order-45', events, { expectedVersion: 'no_stream' });
    let result;
    try {
      result = await appendOnce();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      result = await appendOnce(); // an exact retry: recorded once, whatever happened the first time
    }
    // #endregion retry-unknown
    expect(result.nextExpectedVersion).toBe(1n);
    expect((await appendOnce()).idempotent).toBe(true);
  });
});
