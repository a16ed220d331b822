/**
 * The distributed mode: the same services, each in its own process, with a broker between them
 * (NATS JetStream by default, RabbitMQ, or PostgreSQL's own queues) and PostgreSQL for their
 * state. Each service publishes its events from the store through an outbox relay and hears the
 * others' through its topic groups; commands go on queues. This process declares the topology,
 * takes the checkouts, waits until every order's process is over — killing one service with
 * SIGKILL mid-run and starting it again, when asked — then prints the same census.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { derivedId, ProcessManager, type SagaState } from '@eventloom/core';
import { openPostgresEventStore } from '@eventloom/postgres';
import pg from 'pg';
import { orderSchemas } from '../order/index.js';
import { ensureGatewayLedger, gatewayInvariant } from './bus/gateway-ledger.js';
import { busEnv, dropBus, openBus, type BusConfig } from './bus/open-bus.js';
import { allSources } from './bus/topology.js';
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
  /** The broker between the services. */
  readonly bus: BusConfig;
  /** SIGKILL this service when a third of the orders are over, and start it again. */
  readonly kill?: ChoreographyPart;
  readonly progress?: boolean;
  /** Give up after this long. Default 10 minutes. */
  readonly timeoutMs?: number;
}

export interface DistributedResult extends RunResult {
  readonly killed: ChoreographyPart | null;
  readonly bus: BusConfig['kind'];
}

const script = fileURLToPath(new URL('../service-process.ts', import.meta.url));
const cwd = fileURLToPath(new URL('../..', import.meta.url));

function startService(part: ChoreographyPart, options: DistributedOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', script, part, options.schema, String(options.orders)], {
      cwd,
      env: { ...process.env, EVENTLOOM_POSTGRES_URL: options.connectionString, ...busEnv(options.bus) },
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

export async function runDistributed(options: DistributedOptions): Promise<DistributedResult> {
  const planned = plannedOrders(options.orders);
  const products = catalogue(options.orders);
  const store = await openPostgresEventStore({ connectionString: options.connectionString, schema: options.schema, schemas: orderSchemas(), source: 'checkout', poolSize: 4 });
  const started = performance.now();
  const children = new Map<ChoreographyPart, ChildProcess>();
  const sources = allSources(options.bus, CHOREOGRAPHY_PARTS);
  let killed: ChoreographyPart | null = null;
  const owner = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  try {
    await ensureGatewayLedger(owner, store.schema);
    // #region declare
    // Every group exists before the first event is published: a group gets what comes after it.
    const bus = await openBus(options.bus, store, 'checkout');
    try {
      await bus.declare(sources);
    } finally {
      await bus.close();
    }
    // #endregion declare
    await Promise.all(CHOREOGRAPHY_PARTS.map(async (part) => children.set(part, await startService(part, options))));
    const services = createServices(store, products);
    // Read-only view of the order process (its handler runs in the 'process' service).
    const view = new ProcessManager({ store, definition: orderProcess, dispatch: async () => undefined });
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < planned.length) {
          const order = planned[next++]!;
          // The checkout writes the order to the store; the order service's relay publishes it.
          await services.orders.create(order, derivedId(`checkout:${order.orderId}`), `checkout-${order.orderId}`);
        }
      }),
    );
    const bar = options.progress ? progressBar(`distributed/${options.bus.kind}`, planned.length) : null;
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
    // An order is settled once its saga is, but the payment service killed between its refund's
    // append and its inbox's commit gets that message again only after the broker's redelivery:
    // the store has the refund, the gateway's ledger not yet. Wait for the ledger (bounded); a
    // lost effect still fails, and a doubled one never heals.
    const ledgerDeadline = Math.min(deadline, Date.now() + 60_000);
    let gateway = await gatewayInvariant(owner, store.schema, result.captures, result.refunds);
    while (!gateway.ok && Date.now() < ledgerDeadline) {
      await new Promise((r) => setTimeout(r, 250));
      gateway = await gatewayInvariant(owner, store.schema, result.captures, result.refunds);
    }
    const invariants = [...result.invariants, gateway];
    return { ...result, invariants, variant: 'choreographed', orders: planned.length, elapsedMs, ok: invariants.every((i) => i.ok), killed, bus: options.bus.kind };
  } finally {
    await Promise.all([...children.values()].map(stopService));
    await store.close();
    await owner.end();
    await dropBus(options.bus, sources).catch((error: unknown) => console.warn(`could not delete the run's ${options.bus.kind} topology`, error));
  }
}
