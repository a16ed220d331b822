/** Events and projections the projection suites run: a small order domain with checks for skips and duplicates. */
import { defineCollection, defineProjection, type Event, type EventToAppend, type EventStore, type ProjectionHandle } from '@eventloom/core';

export type OrderCreated = Event<'OrderCreated', { orderId: string; customerId: string; total: number }>;
export type OrderPaid = Event<'OrderPaid', { orderId: string; amount: number }>;
export type OrderShipped = Event<'OrderShipped', { orderId: string }>;
export type OrderNoted = Event<'OrderNoted', { orderId: string; note: string }>;
export type OrderEvent = OrderCreated | OrderPaid | OrderShipped | OrderNoted;

export interface OrderSummary {
  orderId: string;
  customerId: string;
  total: number;
  paid: number;
  status: 'open' | 'paid' | 'shipped';
}

/** Per stream: events seen, in order; `gaps` counts events that arrived out of turn (skipped or applied twice). */
export interface StreamLedger {
  streamId: string;
  count: number;
  lastVersion: number;
  gaps: number;
}

export function created(orderId: string, total = 10, customerId = 'c1'): EventToAppend<OrderEvent> {
  return { type: 'OrderCreated', data: { orderId, customerId, total } };
}

export function paid(orderId: string, amount = 10): EventToAppend<OrderEvent> {
  return { type: 'OrderPaid', data: { orderId, amount } };
}

export function shipped(orderId: string): EventToAppend<OrderEvent> {
  return { type: 'OrderShipped', data: { orderId } };
}

export function noted(orderId: string, note = 'n'): EventToAppend<OrderEvent> {
  return { type: 'OrderNoted', data: { orderId, note } };
}

let counter = 0;
/** A stream id no other test uses, so suites can share a database and run in parallel. */
export function uniqueOrderStream(): string {
  counter++;
  return `order-${process.pid}x${Date.now().toString(36)}x${counter}`;
}

/** The summaries' collection, declared once with its type and an index by customer and total. */
export const orders = defineCollection<OrderSummary>('orders', { indexes: { byCustomer: ['customerId', 'total'] } });

/** One summary per order; handles three of the four event types (notes are not its business). Plain `async` handlers: it runs unchanged on every store. */
export function orderSummaryProjection(options: { name?: string; version?: number } = {}) {
  return defineProjection<OrderEvent>({
    name: options.name ?? 'order-summary',
    version: options.version ?? 1,
    collections: [orders],
    handlers: {
      OrderCreated: async (event, { collection }) => {
        await collection(orders).upsert(event.data.orderId, {
          orderId: event.data.orderId,
          customerId: event.data.customerId,
          total: event.data.total,
          paid: 0,
          status: 'open',
        });
      },
      OrderPaid: async (event, { collection }) => {
        await collection(orders).update(event.data.orderId, (order) => ({ ...order, paid: order.paid + event.data.amount, status: 'paid' }));
      },
      OrderShipped: async (event, { collection }) => {
        await collection(orders).update(event.data.orderId, (order) => ({ ...order, status: 'shipped' }));
      },
    },
  });
}

/**
 * Counts every event per stream and notices any that arrive out of turn: a skipped or
 * double-applied event shows as a gap. `hook` runs before each event (to fail or slow it).
 */
export function ledgerProjection(
  options: { name?: string; version?: number; hook?: (event: { position: bigint; streamId: string; type: string }) => unknown } = {},
) {
  const apply = async (event: { position: bigint; streamId: string; streamVersion: bigint; type: string }, read: ProjectionHandle): Promise<void> => {
    await options.hook?.(event);
    const ledgers = read.collection<StreamLedger>('ledgers');
    const current = (await ledgers.get(event.streamId)) ?? { streamId: event.streamId, count: 0, lastVersion: 0, gaps: 0 };
    const version = Number(event.streamVersion);
    await ledgers.upsert(event.streamId, {
      streamId: event.streamId,
      count: current.count + 1,
      lastVersion: version,
      gaps: current.gaps + (version === current.lastVersion + 1 ? 0 : 1),
    });
  };
  return defineProjection<OrderEvent>({
    name: options.name ?? 'ledger',
    version: options.version ?? 1,
    handlers: { OrderCreated: apply, OrderPaid: apply, OrderShipped: apply, OrderNoted: apply },
  });
}

/** Appends `orders` orders of created + paid (+ shipped for every third) and returns the position of the last event. */
export async function appendOrders(store: EventStore, orders: number, prefix = uniqueOrderStream()): Promise<{ streams: string[]; position: bigint; events: number }> {
  const streams: string[] = [];
  let position = 0n;
  let events = 0;
  for (let i = 0; i < orders; i++) {
    const streamId = `${prefix}-${i}`;
    const orderId = streamId.slice('order-'.length);
    const batch = [created(orderId, 10 + i), paid(orderId, 10 + i), ...(i % 3 === 0 ? [shipped(orderId)] : [])];
    const result = await store.appendToStream(streamId, batch);
    streams.push(streamId);
    position = result.position;
    events += batch.length;
  }
  return { streams, position, events };
}

/** Polls `check` until it stops throwing, for at most `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
