/** Inline handlers run inside the append's transaction, on its connection: their writes commit or roll back with it. */
import { collect, uuidv7 } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('inline handlers', () => {
  let test: TestStore;
  let table: string;
  beforeAll(async () => {
    test = await openTestStore();
    table = `"${test.schema}".order_totals`;
    const admin = await adminClient();
    try {
      await admin.query(`CREATE TABLE ${table} (order_id text PRIMARY KEY, total numeric NOT NULL)`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${table} TO "${test.schema}_app"`);
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('writes a read model in the same transaction, rolls back with it, and skips exact retries', async () => {
    const { store } = test;
    const calls: number[] = [];
    const remove = store.addInlineHandler(async (events, client) => {
      calls.push(events.length);
      for (const event of events) {
        const { orderId, amount } = event.data as { orderId: string; amount: number };
        if (amount < 0) throw new Error('negative amount');
        await client.query(
          `INSERT INTO ${table} (order_id, total) VALUES ($1, $2)
           ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + excluded.total`,
          [orderId, amount],
        );
      }
    });
    const totals = async () => (await store.pool.query<{ total: string }>(`SELECT total FROM ${table} WHERE order_id = 'o1'`)).rows;
    try {
      const batch = [
        { id: uuidv7(), type: 'Added', data: { orderId: 'o1', amount: 5 } },
        { id: uuidv7(), type: 'Added', data: { orderId: 'o1', amount: 7 } },
      ];
      await store.appendToStream('order-o1', batch);
      expect(await totals()).toEqual([{ total: '12' }]);
      await expect(store.appendToStream('order-o1', [{ type: 'Added', data: { orderId: 'o1', amount: -1 } }])).rejects.toThrow(
        'negative amount',
      );
      expect(await totals()).toEqual([{ total: '12' }]);
      expect(await collect(store.readStream('order-o1'))).toHaveLength(2);
      expect(await store.appendToStream('order-o1', batch)).toMatchObject({ idempotent: true });
      expect(calls).toEqual([2, 1]);
    } finally {
      remove();
    }
    await store.appendToStream('order-o1', [{ type: 'Added', data: { orderId: 'o1', amount: 100 } }]);
    expect(await totals()).toEqual([{ total: '12' }]);
  });
});
