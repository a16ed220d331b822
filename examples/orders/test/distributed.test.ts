/**
 * The distributed mode: each service in its own process over PostgreSQL, the payment service
 * killed with SIGKILL a third of the way through and started again; the same invariants hold.
 */
import { POSTGRES, serviceOrSkip } from '@eventloom/testing';
import { dropPostgresEventStore } from '@eventloom/postgres';
import { describe, expect, it } from 'vitest';
import { runDistributed } from '../src/system/distributed.js';

const url = await serviceOrSkip(POSTGRES);

describe.skipIf(!url)('the order system, distributed (a process per service, PostgreSQL)', () => {
  it('settles every order with one service killed mid-run; every invariant holds', { timeout: 300_000 }, async () => {
    const schema = `orders_${process.pid}_${Date.now().toString(36)}`;
    try {
      const result = await runDistributed({ connectionString: url!, schema, orders: 20, kill: 'payment', timeoutMs: 240_000 });
      expect(result.killed).toBe('payment');
      expect(result.invariants.filter((i) => !i.ok)).toEqual([]);
      expect(result.sagasByState).toEqual({ completed: result.ordersByStatus.SHIPPED, compensated: result.ordersByStatus.CANCELLED });
      expect(result.ordersByStatus.SHIPPED).toBeGreaterThan(5);
    } finally {
      await dropPostgresEventStore({ connectionString: url!, schema });
    }
  });
});
