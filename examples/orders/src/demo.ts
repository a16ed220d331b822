/**
 * The demo behind `npm start`: the seed's Order on the embedded SQLite store. Orders are
 * created, paid, shipped and cancelled through the command handler; every event is shown with
 * its correlation and causation ids; then every order is rebuilt by replay and compared with the
 * state the command handler returned.
 */
import { CommandHandler, collect, ProjectionRunner, type RecordedEvent } from '@eventloom/core';
import { openSqliteEventStore, openSqliteReadModels } from '@eventloom/sqlite';
import {
  Order,
  orderDecider,
  OrderRuleError,
  orderSchemas,
  orderStreamId,
  type OrderCommand,
  type OrderEvent,
  type OrderSnapshot,
} from './order/index.js';
import { getCustomerOrders, orders as orderDocuments, orderSummaries, type OrderSummary } from './read-models/order-summary.js';

export interface DemoOptions {
  /** SQLite file to use; it is created if missing. */
  readonly filename: string;
  /** Where lines of output go. */
  readonly log?: (line: string) => void;
}

export interface DemoResult {
  readonly orders: number;
  readonly events: number;
  /** Orders whose replayed state equals the state the handler returned. */
  readonly matching: number;
  readonly mismatches: readonly string[];
  readonly conflictsRetried: number;
  /** The order-summary read model, as the projection built it. */
  readonly summaries: readonly OrderSummary[];
  /** `getCustomerOrders('cust-ada')`: her orders, newest first. */
  readonly adasOrders: readonly OrderSummary[];
}

const catalogue = {
  keyboard: { productId: 'prod-keyboard', price: 49.99 },
  mouse: { productId: 'prod-mouse', price: 19.5 },
  monitor: { productId: 'prod-monitor', price: 229 },
  cable: { productId: 'prod-cable', price: 5 },
};

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = openSqliteEventStore({ filename: options.filename, schemas: orderSchemas(), source: 'order-service' });
  try {
    const orders = new CommandHandler(store, orderDecider, {
      snapshots: {
        store: store.snapshots,
        every: 3,
        schemaVersion: 1,
        toSnapshot: (order) => order.toSnapshot(),
        fromSnapshot: (snapshot) => Order.fromSnapshot(snapshot as OrderSnapshot),
      },
    });
    const live = new Map<string, OrderSnapshot>();
    let conflictsRetried = 0;
    const send = async (orderId: string, command: OrderCommand): Promise<void> => {
      try {
        const result = await orders.handle(orderStreamId(orderId), command);
        live.set(orderId, result.state.toSnapshot());
        conflictsRetried += result.attempts - 1;
        const what = result.events.map((e) => e.type).join(', ') || 'no change';
        log(`  ${command.type.padEnd(12)} ${orderId.padEnd(6)} → ${what} (v${result.nextExpectedVersion})`);
      } catch (error) {
        if (!(error instanceof OrderRuleError)) throw error;
        log(`  ${command.type.padEnd(12)} ${orderId.padEnd(6)} ✗ refused: ${error.message}`);
      }
    };
    const create = (orderId: string, customerId: string, lines: [keyof typeof catalogue, number][], correlationId: string) =>
      send(orderId, {
        type: 'CreateOrder',
        correlationId,
        metadata: { tenantId: 'acme', userId: customerId },
        data: {
          orderId,
          customerId,
          currency: 'EUR',
          items: lines.map(([product, quantity]) => ({ ...catalogue[product], quantity })),
        },
      });
    const total = (orderId: string) => live.get(orderId)!.totalAmount;

    log('Commands');
    await create('1001', 'cust-ada', [['keyboard', 1], ['mouse', 2]], 'checkout-1');
    await send('1001', { type: 'PayOrder', correlationId: 'checkout-1', data: { amount: total('1001'), paymentId: 'pay-1' } });
    await send('1001', { type: 'ShipOrder', correlationId: 'checkout-1', data: { carrier: 'DHL', trackingNumber: 'JD0001' } });
    await create('1002', 'cust-grace', [['monitor', 2]], 'checkout-2');
    await send('1002', { type: 'PayOrder', correlationId: 'checkout-2', data: { amount: 1, paymentId: 'pay-2' } });
    await send('1002', { type: 'PayOrder', correlationId: 'checkout-2', data: { amount: total('1002'), paymentId: 'pay-3' } });
    await create('1003', 'cust-alan', [['cable', 4]], 'checkout-3');
    await send('1003', { type: 'CancelOrder', correlationId: 'checkout-3', data: { reason: 'customer changed their mind' } });
    await send('1003', { type: 'CancelOrder', correlationId: 'checkout-3', data: { reason: 'clicked twice' } });
    await send('1001', { type: 'CancelOrder', correlationId: 'support-7', data: { reason: 'too late' } });
    // Two clerks act on the same order at once: the loser re-decides on fresh state and retries.
    await create('1004', 'cust-barbara', [['keyboard', 3]], 'checkout-4');
    await Promise.all([
      send('1004', { type: 'PayOrder', correlationId: 'checkout-4', data: { amount: total('1004'), paymentId: 'pay-4' } }),
      send('1004', { type: 'CancelOrder', correlationId: 'support-8', data: { reason: 'duplicate order' } }),
    ]);

    log('');
    log('Events (position  stream@version  type  correlation ← causation)');
    const events = await collect(store.readCategory<OrderEvent>('order'));
    for (const event of events) log(`  ${describe(event)}`);

    log('');
    log('Replay: every order rebuilt from its events');
    const byStream = new Map<string, RecordedEvent<OrderEvent>[]>();
    for (const event of events) byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event]);
    const mismatches: string[] = [];
    for (const [streamId, streamEvents] of byStream) {
      const replayed = Order.fromEvents(streamEvents).toSnapshot();
      const expected = live.get(replayed.id);
      const same = JSON.stringify(replayed) === JSON.stringify(expected);
      if (!same) mismatches.push(streamId);
      log(`  ${streamId.padEnd(16)} ${replayed.status.padEnd(10)} ${replayed.totalAmount.toFixed(2).padStart(8)} ${replayed.currency}  ${same ? '✓ matches' : '✗ DIFFERS'}`);
    }
    log('');
    log('Read model: order-summary, kept by an async projection (checkpoint in the same transaction)');
    const readModels = openSqliteReadModels({ database: store.database });
    const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [orderSummaries] });
    await runner.start();
    let summaries: OrderSummary[];
    let adasOrders: OrderSummary[];
    try {
      // Read-your-writes: wait until the projection has passed the last position the commands wrote.
      await readModels.waitForPosition('order-summary', events.at(-1)!.position, { timeoutMs: 10_000 });
      summaries = await readModels.read('order-summary', (view) => view.collection(orderDocuments).find());
      for (const summary of summaries) {
        log(`  ${summary.orderId}  ${summary.customerId.padEnd(13)} ${summary.status.padEnd(10)} ${String(summary.itemCount).padStart(2)} items ${summary.totalAmount.toFixed(2).padStart(8)} ${summary.currency}`);
      }
      const lag = await runner.lag('order-summary');
      log(`  lag: ${lag.events} events, ${lag.seconds.toFixed(1)} s behind the head`);
      adasOrders = (await getCustomerOrders(readModels, 'cust-ada')).documents;
      log(`  getCustomerOrders('cust-ada'), newest first: ${adasOrders.map((order) => `${order.orderId} (${order.status})`).join(', ')}`);
    } finally {
      await runner.stop();
      await readModels.close();
    }

    log('');
    log(`${byStream.size} orders, ${events.length} events, ${byStream.size - mismatches.length} rebuilt states match` +
      `${conflictsRetried ? `, ${conflictsRetried} concurrency conflict(s) retried` : ''}. Store: ${options.filename}`);
    return {
      orders: byStream.size,
      events: events.length,
      matching: byStream.size - mismatches.length,
      mismatches,
      conflictsRetried,
      summaries,
      adasOrders,
    };
  } finally {
    await store.close();
  }
}

function describe(event: RecordedEvent): string {
  // UUIDv7s made in the same second share their first digits; the tail tells them apart.
  const short = (id: string | null) => (id === null ? '—' : id.length > 13 ? `…${id.slice(-12)}` : id);
  return `${String(event.position).padStart(4)}  ${`${event.streamId}@${event.streamVersion}`.padEnd(16)}  ${event.type.padEnd(15)} ${short(event.correlationId).padEnd(13)} ← ${short(event.causationId)}`;
}
