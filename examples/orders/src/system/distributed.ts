/**
 * The distributed mode: the same services, each in its own process, over PostgreSQL (the store is
 * the bus: subscriptions woken by LISTEN/NOTIFY, leases so one process holds each service). This
 * process takes the checkouts, waits until every order's process is over — killing one service
 * with SIGKILL mid-run and starting it again, when asked — then prints the same census.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { derivedId, ProcessManager, type SagaState } from '@eventloom/core';
import { openPostgresEventStore } from '@eventloom/postgres';
import { orderSchemas } from '../order/index.js';
import { catalogue, plannedOrders } from './catalogue.js';
import { CHOREOGRAPHY_PARTS, orderProcess, type ChoreographyPart } from './choreographed.js';
import { census } from './invariants.js';
import { progressBar } from './progress.js';
import type { RunResult } from './run.js';
import { createServices } from './services/index.js';

export interface DistributedOptions {
  readonly connectionString: string;
  readonly schema: string;
  readonly orders: number;
  /** SIGKILL this service when a third of the orders are over, and start it again. */
  readonly kill?: ChoreographyPart;
  readonly progress?: boolean;
  /** Give up after this long. Default 10 minutes. */
  readonly timeoutMs?: number;
}

const script = fileURLToPath(new URL('../service-process.ts', import.meta.url));
const cwd = fileURLToPath(new URL('../..', import.meta.url));

function startService(part: ChoreographyPart, options: DistributedOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', script, part, options.schema, String(options.orders)], {
      cwd,
      env: { ...process.env, EVENTLOOM_POSTGRES_URL: options.connectionString },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes(`ready ${part}`)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`service ${part} exited (${code}) before it was ready`)));
  });
}

function stopService(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function runDistributed(options: DistributedOptions): Promise<RunResult & { readonly killed: ChoreographyPart | null }> {
  const planned = plannedOrders(options.orders);
  const products = catalogue(options.orders);
  const store = await openPostgresEventStore({ connectionString: options.connectionString, schema: options.schema, schemas: orderSchemas(), source: 'checkout', poolSize: 4 });
  const started = performance.now();
  const children = new Map<ChoreographyPart, ChildProcess>();
  let killed: ChoreographyPart | null = null;
  try {
    await Promise.all(CHOREOGRAPHY_PARTS.map(async (part) => children.set(part, await startService(part, options))));
    const services = createServices(store, products);
    // Read-only view of the order process (its handler runs in the 'process' service).
    const view = new ProcessManager({ store, definition: orderProcess, dispatch: async () => undefined });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < planned.length) {
          const order = planned[next++]!;
          await services.orders.create(order, derivedId(`checkout:${order.orderId}`), `checkout-${order.orderId}`);
        }
      }),
    );
    const bar = options.progress ? progressBar('distributed', planned.length) : null;
    const complete = new Set<string>();
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    while (complete.size < planned.length) {
      if (Date.now() > deadline) throw new Error(`distributed run: ${planned.length - complete.size} orders not settled in time`);
      for (const order of planned) if (!complete.has(order.orderId) && (await view.instance(order.orderId))?.complete) complete.add(order.orderId);
      bar?.tick(complete.size);
      if (options.kill && killed === null && complete.size >= planned.length / 3) {
        killed = options.kill;
        children.get(killed)!.kill('SIGKILL');
        await new Promise((r) => children.get(killed!)!.once('exit', r));
        children.set(killed, await startService(killed, options));
      }
      if (complete.size < planned.length) await new Promise((r) => setTimeout(r, 250));
    }
    bar?.end();
    const elapsedMs = performance.now() - started;
    const states = new Map<string, SagaState | 'missing'>();
    for (const order of planned) {
      const instance = await view.instance(order.orderId);
      states.set(order.orderId, instance === null ? 'missing' : !instance.complete ? 'running' : instance.state.shipped ? 'completed' : 'compensated');
    }
    const result = await census(store, planned, products, states);
    return { ...result, variant: 'choreographed', orders: planned.length, elapsedMs, ok: result.invariants.every((i) => i.ok), killed };
  } finally {
    await Promise.all([...children.values()].map(stopService));
    await store.close();
  }
}
