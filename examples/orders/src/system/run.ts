/**
 * The reference system, embedded: order, inventory, payment and shipping services on one SQLite
 * file, a load of orders run through them (orchestrated by sagas, or choreographed by events),
 * then a census of the store and the invariants. Run again on the same file, it continues the same
 * orders where the last run stopped (a crash included): sagas resume from their logs.
 */
import { derivedId, SagaOrchestrator, type EventStore, type RecordedEvent, type SagaLogEvent, type SagaState, type Transport } from '@eventloom/core';
import { openSqliteEventStore, openSqliteTransport } from '@eventloom/sqlite';
import { orderSchemas } from '../order/index.js';
import { catalogue, plannedOrders, type PlannedOrder } from './catalogue.js';
import { startChoreography } from './choreographed.js';
import { census, type Census } from './invariants.js';
import { orderSaga } from './orchestrated.js';
import { progressBar } from './progress.js';
import { serveShipping, ShippingDesk } from './shipping-desk.js';
import { createServices, type Services } from './services/index.js';

export type Variant = 'orchestrated' | 'choreographed';

export interface RunOptions {
  readonly filename: string;
  readonly orders: number;
  readonly variant?: Variant;
  /** Orders in flight at once. Default 16. */
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
  /** Draw a progress bar on stderr. Default false. */
  readonly progress?: boolean;
}

export interface RunResult extends Census {
  readonly variant: Variant;
  readonly orders: number;
  readonly elapsedMs: number;
  readonly ok: boolean;
}

export async function runSystem(options: RunOptions): Promise<RunResult> {
  const variant = options.variant ?? 'orchestrated';
  const planned = plannedOrders(options.orders);
  const products = catalogue(options.orders);
  const store = openSqliteEventStore({ filename: options.filename, schemas: orderSchemas(), source: 'orders-system', ...(process.env.EVENTLOOM_DURABILITY ? { durability: process.env.EVENTLOOM_DURABILITY as 'normal' } : {}) });
  const started = performance.now();
  try {
    const services = createServices(store, products);
    const bar = options.progress ? progressBar(variant, planned.length) : null;
    let done = 0;
    const onDone = () => bar?.tick(++done);
    const concurrency = options.concurrency ?? 16;
    let states: ReadonlyMap<string, SagaState | 'missing'>;
    if (variant === 'orchestrated') {
      // The queues live in the store's file, on its connection: one SQLite file holds everything.
      const transport = openSqliteTransport({ store, source: 'orders-system', pollIntervalMs: 50 });
      try {
        await runOrchestrated(store, transport, services, planned, concurrency, onDone);
      } finally {
        await transport.close();
      }
      states = await sagaStates(store);
    } else {
      states = await runChoreographed(store, services, planned, concurrency, (n) => bar?.tick(n));
    }
    bar?.end();
    const elapsedMs = performance.now() - started;
    const result = await census(store, planned, products, states);
    const ok = result.invariants.every((i) => i.ok);
    return { ...result, variant, orders: planned.length, elapsedMs, ok };
  } finally {
    await store.close();
  }
}

// #region run-orchestrated
async function runOrchestrated(store: EventStore, transport: Transport, services: Services, planned: readonly PlannedOrder[], concurrency: number, onDone: () => void): Promise<void> {
  serveShipping(transport, services);
  const orchestrator = new SagaOrchestrator({ store, transport, saga: orderSaga(services, new ShippingDesk(transport)) });
  // After a crash: sagas the last run left half-way go on from their logs first.
  await orchestrator.recover();
  let next = 0;
  const worker = async () => {
    while (next < planned.length) {
      const order = planned[next++]!;
      // Starting a saga that exists is a no-op, so a restarted run simply goes through the list again.
      await orchestrator.execute(order.orderId, order);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
// #endregion run-orchestrated

// #region run-choreographed
async function runChoreographed(store: EventStore, services: Services, planned: readonly PlannedOrder[], concurrency: number, progress: (done: number) => void): Promise<Map<string, SagaState | 'missing'>> {
  const byId = new Map(planned.map((o) => [o.orderId, o]));
  const choreography = startChoreography(store, services, (orderId) => byId.get(orderId)!);
  try {
    let next = 0;
    const worker = async () => {
      while (next < planned.length) {
        const order = planned[next++]!;
        // The checkout: only the order is created here; everything after it is the services reacting.
        await services.orders.create(order, derivedId(`checkout:${order.orderId}`), `checkout-${order.orderId}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await choreography.settled([...byId.keys()], progress);
    const states = new Map<string, SagaState | 'missing'>();
    for (const order of planned) {
      const instance = await choreography.process.instance(order.orderId);
      states.set(order.orderId, instance === null ? 'missing' : !instance.complete ? 'running' : instance.state.shipped ? 'completed' : 'compensated');
    }
    return states;
  } finally {
    await choreography.stop();
  }
}
// #endregion run-choreographed

async function sagaStates(store: EventStore): Promise<Map<string, SagaState | 'missing'>> {
  const logs = new Map<string, RecordedEvent<SagaLogEvent>[]>();
  for await (const event of store.readCategory<SagaLogEvent>('saga')) {
    const id = event.streamId.slice('saga-'.length);
    const list = logs.get(id);
    if (list) list.push(event);
    else logs.set(id, [event]);
  }
  return new Map([...logs].map(([id, events]) => [id, sagaStateOf(events)]));
}

function sagaStateOf(events: readonly RecordedEvent<SagaLogEvent>[]): SagaState | 'missing' {
  if (events.length === 0) return 'missing';
  for (let i = events.length - 1; i >= 0; i--) {
    const type = events[i]!.type;
    if (type === 'SagaCompleted') return 'completed';
    if (type === 'SagaCompensated') return 'compensated';
    if (type === 'SagaCompensationAbandoned') return 'compensation_failed';
  }
  return events.some((e) => e.type === 'SagaStepFailed' && !e.data.willRetry) ? 'compensating' : 'running';
}

export function formatSummary(result: RunResult, filename: string): string[] {
  const lines: string[] = [];
  const secs = result.elapsedMs / 1000;
  lines.push('');
  lines.push(`Orders: ${result.orders} (${result.variant}) on ${filename} in ${secs.toFixed(1)} s · ${(result.orders / secs).toFixed(0)} sagas/s`);
  for (const [status, n] of Object.entries(result.ordersByStatus).sort()) {
    const why = status === 'CANCELLED' ? `  (${Object.entries(result.cancelledBecause).map(([r, c]) => `${r} ${c}`).join(', ')})` : '';
    lines.push(`  ${status.padEnd(12)} ${String(n).padStart(6)}${why}`);
  }
  lines.push(`Sagas: ${Object.entries(result.sagasByState).sort().map(([s, n]) => `${s} ${n}`).join(' · ')}`);
  lines.push(`Stock: ${result.units.total} units — ${result.units.shipped} shipped, ${result.units.free} free, ${result.units.reserved} reserved · payments: ${result.captures} captured, ${result.refunds} refunded`);
  lines.push('Invariants');
  for (const inv of result.invariants) lines.push(`  ${inv.ok ? '✓' : '✗'} ${inv.name}${inv.ok ? '' : ` — ${inv.detail}`}`);
  return lines;
}
