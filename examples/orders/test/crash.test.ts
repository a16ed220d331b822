/**
 * kill -9 the embedded reference system at random moments and restart it on the same SQLite file:
 * every saga ends terminal, the invariants hold, no side effect happens twice. `npm test` kills a
 * small run 3 times; EVENTLOOM_SOAK=1 kills a 2,000-order run 20 times (figures printed).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect, MemoryTransport, ProcessManager, SagaOrchestrator, type SagaLogEvent } from '@eventloom/core';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogue, census, orderProcess, orderSaga, plannedOrders, createServices, ShippingDesk } from '../src/system/index.js';

const soak = process.env.EVENTLOOM_SOAK === '1';
const PLANS = [
  { variant: 'orchestrated', orders: soak ? 2_000 : 150, kills: soak ? 20 : 3 },
  { variant: 'choreographed', orders: soak ? 500 : 40, kills: soak ? 10 : 2 },
] as const;
const dir = mkdtempSync(join(tmpdir(), 'eventloom-orders-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cwd = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly killed: boolean;
  readonly output: string;
}

/**
 * Runs `npm start`'s entry on `filename`; kills it once its progress line reaches `killAtPercent`
 * of the orders (a moment in the work, not in time: a fast machine would finish before a timer).
 */
function run(filename: string, variant: string, orders: number, killAtPercent: number | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', 'src/main.ts'], {
      cwd,
      env: { ...process.env, EVENTLOOM_DB: filename, EVENTLOOM_ORDERS: String(orders), EVENTLOOM_VARIANT: variant },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let killed = false;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (killAtPercent === null || killed) return;
      // Off a terminal the progress bar writes a line at each tenth: `… 30% 45/150 · 97/s`.
      for (const match of text.matchAll(/(\d+)% \d+\/\d+/g)) {
        if (Number(match[1]) >= killAtPercent) {
          killed = child.kill('SIGKILL');
          break;
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => {
      resolve({ code, killed: killed && code === null, output });
    });
  });
}

describe.each(PLANS)('the embedded order system ($variant) under kill -9', ({ variant, orders: ORDERS, kills: KILLS }) => {
  it(`survives ${KILLS} kills at random moments across ${ORDERS} orders: sagas terminal, invariants hold, nothing done twice`, { timeout: soak ? 1_800_000 : 120_000 }, async () => {
    const filename = join(dir, `orders-${variant}.sqlite`);
    let kills = 0;
    const started = Date.now();
    for (let i = 0; i < KILLS; i++) {
      // Random moments, later with each run so each one gets further: early, mid-run, late.
      const span = 80 / KILLS;
      const r = await run(filename, variant, ORDERS, Math.floor(10 + i * span + Math.random() * span));
      if (r.killed) kills++;
      else expect(r.code, r.output).toBe(0);
    }
    const last = await run(filename, variant, ORDERS, null);
    const elapsed = Date.now() - started;
    expect(last.code, last.output).toBe(0);
    expect(last.output).not.toContain('✗');
    expect(kills).toBeGreaterThan(0);

    // The census again, here, from the file: the child's word is not enough.
    const store = openSqliteEventStore({ filename });
    try {
      const planned = plannedOrders(ORDERS);
      const products = catalogue(ORDERS);
      const services = createServices(store, products);
      const transport = new MemoryTransport();
      const orchestrator = new SagaOrchestrator({ store, saga: orderSaga(services, new ShippingDesk(transport)) });
      expect(await orchestrator.unfinished()).toEqual([]);
      await transport.close();
      if (variant === 'choreographed') {
        const process = new ProcessManager({ store, definition: orderProcess, dispatch: async () => undefined });
        for (const order of planned) expect((await process.instance(order.orderId))?.complete, order.orderId).toBe(true);
      }
      const result = await census(store, planned, products, new Map(planned.map((o) => [o.orderId, 'completed' as const])));
      for (const invariant of result.invariants) expect(invariant, invariant.detail).toMatchObject({ ok: true });
      const logs = await collect(store.readCategory<SagaLogEvent>('saga', { eventTypes: ['SagaStepStarted'] }));
      // Attempts a kill interrupted are visible in the logs as a second attempt of a step no failure explains.
      const retried = logs.filter((e) => e.type === 'SagaStepStarted' && e.data.attempt > 1).length;
      if (soak) console.log(`soak ${variant}: ${ORDERS} orders, ${kills} kills of ${KILLS} runs, ${elapsed} ms in all, ${retried} step attempts repeated, shipped ${result.ordersByStatus.SHIPPED ?? 0}, cancelled ${result.ordersByStatus.CANCELLED ?? 0}`);
    } finally {
      await store.close();
    }
  });
});
