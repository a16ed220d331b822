import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect } from '@eventloom/core';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../src/demo.js';

const dir = mkdtempSync(join(tmpdir(), 'eventloom-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start (the order demo)', () => {
  it('records the orders on SQLite and rebuilds every one of them identically by replay', async () => {
    const lines: string[] = [];
    const filename = join(dir, 'orders.sqlite');
    const result = await runDemo({ filename, log: (line) => lines.push(line) });
    expect(result.orders).toBe(4);
    expect(result.mismatches).toEqual([]);
    expect(result.matching).toBe(4);
    // Two clerks race on order 1004; whichever wins, the other is re-decided on fresh state.
    expect([9, 10]).toContain(result.events);
    const byId = new Map(result.summaries.map((summary) => [summary.orderId, summary]));
    expect([...byId.keys()].sort()).toEqual(['1001', '1002', '1003', '1004']);
    expect(byId.get('1001')).toMatchObject({ status: 'SHIPPED', customerId: 'cust-ada', itemCount: 3, totalAmount: 88.99 });
    expect(byId.get('1003')).toMatchObject({ status: 'CANCELLED', itemCount: 4, totalAmount: 20 });
    expect(lines.join('\n')).toContain('refused: Order 1002: payment of 1 does not match the total 458 EUR');
    // the seed's getCustomerOrders: cust-ada has one order
    expect(result.adasOrders.map((order) => order.orderId)).toEqual(['1001']);
    expect(lines.join('\n')).toContain("getCustomerOrders('cust-ada'), newest first: 1001 (SHIPPED)");

    const store = openSqliteEventStore({ filename });
    try {
      const events = await collect(store.readCategory('order'));
      expect(events).toHaveLength(result.events);
      const shipped = events.find((e) => e.type === 'OrderShipped')!;
      expect(shipped).toMatchObject({ streamId: 'order-1001', correlationId: 'checkout-1', source: 'order-service' });
      expect(shipped.causationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(shipped.metadata).toEqual({});
      expect(events[0]!.metadata).toEqual({ tenantId: 'acme', userId: 'cust-ada' });
    } finally {
      await store.close();
    }
  });
});
