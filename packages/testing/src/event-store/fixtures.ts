/** Events and helpers the conformance suite uses. */
import { collect, type EventStore, type Event, type EventToAppend, type ReadStreamOptions, type RecordedEvent, type WholeEvents } from '@eventloom/core';

export type OrderCreated = Event<
  'OrderCreated',
  { orderId: string; customerId: string; items: { productId: string; quantity: number; price: number }[] }
>;
export type OrderPaid = Event<'OrderPaid', { orderId: string; amount: number }>;
export type OrderShipped = Event<'OrderShipped', { orderId: string; carrier: string }>;
export type OrderEvent = OrderCreated | OrderPaid | OrderShipped;

let counter = 0;

/** A stream id no other test uses, in category `category`. */
export function uniqueStream(category = 'order'): string {
  counter++;
  return `${category}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** A category name no other test uses. */
export function uniqueCategory(prefix = 'cat'): string {
  counter++;
  return `${prefix}${process.pid}x${Date.now().toString(36)}x${counter}`;
}

export function orderCreated(orderId: string, extra: Partial<EventToAppend<OrderCreated>> = {}): EventToAppend<OrderCreated> {
  return {
    type: 'OrderCreated',
    data: {
      orderId,
      customerId: 'cust-1',
      items: [
        { productId: 'prod-a', quantity: 2, price: 49.99 },
        { productId: 'prod-b', quantity: 1, price: 5 },
      ],
    },
    ...extra,
  };
}

export function orderPaid(orderId: string, amount = 104.98): EventToAppend<OrderPaid> {
  return { type: 'OrderPaid', data: { orderId, amount } };
}

export function orderShipped(orderId: string): EventToAppend<OrderShipped> {
  return { type: 'OrderShipped', data: { orderId, carrier: 'ups' } };
}

export function many(count: number, type = 'Counted'): EventToAppend<Event<string, { n: number }>>[] {
  return Array.from({ length: count }, (_, n) => ({ type, data: { n } }));
}

export function readStreamAll<E extends Event = Event>(
  store: EventStore,
  streamId: string,
  options?: ReadStreamOptions & WholeEvents,
): Promise<RecordedEvent<E>[]> {
  return collect(store.readStream<E>(streamId, options));
}

/** Every event of the log whose stream starts with `prefix`: what a test made, untouched by others. */
export function readLogOf(store: EventStore, prefix: string): Promise<RecordedEvent[]> {
  return collect(store.readAll({ filter: { streamPrefixes: [prefix] } }));
}

/** A comparable picture of what a store holds under `prefix`: streams, versions, ids, data. */
export async function snapshotOf(store: EventStore, prefix: string): Promise<string> {
  const events = await readLogOf(store, prefix);
  return JSON.stringify(
    events.map((e) => [e.streamId, e.streamVersion.toString(), e.position.toString(), e.id, e.type, e.data]),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads the log under `prefix` until it holds `count` events (at most `timeoutMs`). Stores whose
 * global log only shows transactions older than every one still in flight (PostgreSQL) may show
 * a fresh append a moment later when unrelated transactions are running.
 */
export async function settledLogOf(store: EventStore, prefix: string, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await readLogOf(store, prefix);
    if (events.length >= count || Date.now() > deadline) return events;
    await sleep(20);
  }
}

/** Retries `assertion` until it passes or `timeoutMs` runs out, then throws its last error. */
export async function eventually(assertion: () => Promise<void> | void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}
