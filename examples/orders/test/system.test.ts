import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSummary, runSystem } from '../src/system/index.js';

const dir = mkdtempSync(join(tmpdir(), 'eventloom-orders-system-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start (the reference order system, embedded)', () => {
  it('runs the orchestrated load: shipped, and cancelled for each reason, with every invariant holding', { timeout: 60_000 }, async () => {
    const filename = join(dir, 'orchestrated.sqlite');
    const result = await runSystem({ filename, orders: 200, variant: 'orchestrated' });
    expect(result.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.ordersByStatus.SHIPPED).toBeGreaterThan(100);
    // The load reaches every flow: card declined, stock sold out, refund after a failed shipment.
    expect(result.cancelledBecause['payment refused']).toBeGreaterThan(0);
    expect(result.cancelledBecause['out of stock']).toBeGreaterThan(0);
    expect(result.cancelledBecause['undeliverable, refunded']).toBeGreaterThan(0);
    expect(result.refunds).toBe(result.cancelledBecause['undeliverable, refunded']);
    expect(result.sagasByState).toEqual({ completed: result.ordersByStatus.SHIPPED, compensated: result.ordersByStatus.CANCELLED });
    expect(formatSummary(result, filename).join('\n')).toContain('✓ every saga terminal');
    // Running again on the same file continues the same orders: nothing new happens.
    const again = await runSystem({ filename, orders: 200, variant: 'orchestrated' });
    expect({ ...again, elapsedMs: 0 }).toEqual({ ...result, elapsedMs: 0 });
  });

  it('runs the choreographed load (services reacting to events, the order process following them) with every invariant holding', { timeout: 90_000 }, async () => {
    const filename = join(dir, 'choreographed.sqlite');
    const result = await runSystem({ filename, orders: 80, variant: 'choreographed' });
    expect(result.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(result.ordersByStatus.SHIPPED).toBeGreaterThan(40);
    expect(result.cancelledBecause['payment refused']).toBeGreaterThan(0);
    expect(result.cancelledBecause['undeliverable, refunded']).toBeGreaterThan(0);
    expect(result.sagasByState).toEqual({ completed: result.ordersByStatus.SHIPPED, compensated: result.ordersByStatus.CANCELLED });
  });
});
