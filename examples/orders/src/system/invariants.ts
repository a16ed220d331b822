/**
 * What must hold after a run, checked from the store alone (not from what the run remembers), so
 * it holds after crashes too: every saga terminal, stock conserved, every cancelled order's stock
 * released and payment refunded, no payment taken twice, no side effect twice.
 */
import { type EventStore, type JsonValue, type RecordedEvent, type SagaState } from '@eventloom/core';
import type { OrderEvent } from '../order/index.js';
import type { PlannedOrder, Product } from './catalogue.js';
import { orderTotal, type PaymentEvent, type ShipmentEvent } from './services/index.js';

export interface Invariant {
  readonly name: string;
  readonly ok: boolean;
  /** What broke, when it did (a few examples). */
  readonly detail: string;
}

export interface Census {
  readonly ordersByStatus: Readonly<Record<string, number>>;
  readonly cancelledBecause: Readonly<Record<string, number>>;
  readonly sagasByState: Readonly<Record<SagaState | 'missing', number>>;
  readonly units: { readonly free: number; readonly reserved: number; readonly shipped: number; readonly total: number };
  readonly captures: number;
  readonly refunds: number;
  readonly invariants: readonly Invariant[];
}

type LockEvent = { type: 'LockAcquired'; data: { owner: string; state: string } } | { type: 'LockReleased'; data: { owner: string } };

async function byStream<E extends { type: string }>(store: EventStore, category: string): Promise<Map<string, RecordedEvent<E & { data: unknown }>[]>> {
  const out = new Map<string, RecordedEvent<E & { data: unknown }>[]>();
  for await (const event of store.readCategory<E & { data: unknown }>(category)) {
    const list = out.get(event.streamId);
    if (list) list.push(event);
    else out.set(event.streamId, [event]);
  }
  return out;
}

/** `sagaStates`: each order's saga (orchestrated) or order process (choreographed) state. */
export async function census(store: EventStore, planned: readonly PlannedOrder[], products: readonly Product[], sagaStates: ReadonlyMap<string, SagaState | 'missing'>): Promise<Census> {
  const orders = await byStream<OrderEvent>(store, 'order');
  const payments = await byStream<PaymentEvent>(store, 'payment');
  const shipments = await byStream<ShipmentEvent>(store, 'shipment');
  const locks = await byStream<LockEvent>(store, 'lock');

  const status = new Map<string, string>();
  for (const order of planned) {
    const events = orders.get(`order-${order.orderId}`) ?? [];
    const last = [...events].reverse().find((e) => ['OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCancelled'].includes(e.type));
    status.set(order.orderId, last === undefined ? 'NOT_CREATED' : { OrderCreated: 'PENDING', OrderPaid: 'PAID', OrderShipped: 'SHIPPED', OrderCancelled: 'CANCELLED' }[last.type as string]!);
  }
  const ordersByStatus: Record<string, number> = {};
  for (const s of status.values()) ordersByStatus[s] = (ordersByStatus[s] ?? 0) + 1;

  const sagasByState: Record<string, number> = {};
  const sagaOf = new Map<string, SagaState | 'missing'>();
  for (const order of planned) {
    const state = sagaStates.get(order.orderId) ?? 'missing';
    sagaOf.set(order.orderId, state);
    sagasByState[state] = (sagasByState[state] ?? 0) + 1;
  }
  const cancelledBecause: Record<string, number> = {};

  // Units: the semantic locks' last holder per unit.
  const holder = new Map<string, { owner: string; state: string } | null>();
  for (const [streamId, events] of locks) {
    let h: { owner: string; state: string } | null = null;
    for (const e of events) {
      if (e.type === 'LockAcquired') h = { owner: (e.data as { owner: string }).owner, state: (e.data as { state: string }).state };
      else if (e.type === 'LockReleased' && h?.owner === (e.data as { owner: string }).owner) h = null;
    }
    holder.set(streamId.slice('lock-'.length), h);
  }
  const unitOwner = (unit: string) => holder.get(unit) ?? null;

  const problems = { terminal: [] as string[], stock: [] as string[], cancelled: [] as string[], twice: [] as string[], paid: [] as string[] };
  for (const order of planned) {
    const state = sagaOf.get(order.orderId)!;
    if (!['completed', 'compensated'].includes(state)) problems.terminal.push(`${order.orderId}: ${state}`);
  }
  let free = 0;
  let reserved = 0;
  let shipped = 0;
  let total = 0;
  for (const product of products) {
    let shippedHere = 0;
    for (let i = 1; i <= product.units; i++) {
      total++;
      const h = unitOwner(`unit_${product.productId}_${i}`);
      if (h === null) free++;
      else if (h.state === 'RESERVED') {
        reserved++;
        problems.stock.push(`unit_${product.productId}_${i} still RESERVED by ${h.owner}`);
      } else if (h.state === 'SHIPPED') {
        shipped++;
        shippedHere++;
        if (status.get(h.owner.slice('order:'.length)) !== 'SHIPPED') problems.stock.push(`unit_${product.productId}_${i} SHIPPED for ${h.owner}, which is not shipped`);
      }
    }
    const ordered = planned.filter((o) => o.productId === product.productId && status.get(o.orderId) === 'SHIPPED').reduce((sum, o) => sum + o.quantity, 0);
    if (ordered !== shippedHere) problems.stock.push(`${product.productId}: ${shippedHere} units shipped, shipped orders hold ${ordered}`);
  }
  if (free + reserved + shipped !== total) problems.stock.push(`units: ${free}+${reserved}+${shipped} != ${total}`);

  let captures = 0;
  let refunds = 0;
  for (const order of planned) {
    const pay = payments.get(`payment-${order.orderId}`) ?? [];
    const captured = pay.filter((e) => e.type === 'PaymentCaptured');
    const refunded = pay.filter((e) => e.type === 'PaymentRefunded');
    captures += captured.length;
    refunds += refunded.length;
    const ships = (shipments.get(`shipment-${order.orderId}`) ?? []).filter((e) => e.type === 'ShipmentCreated');
    const created = (orders.get(`order-${order.orderId}`) ?? []).filter((e) => e.type === 'OrderCreated');
    if (captured.length > 1 || refunded.length > 1) problems.twice.push(`${order.orderId}: ${captured.length} captures, ${refunded.length} refunds`);
    if (ships.length > 1 || created.length > 1) problems.twice.push(`${order.orderId}: ${ships.length} shipments, ${created.length} OrderCreated`);
    const s = status.get(order.orderId);
    if (s === 'CANCELLED') {
      const held = [...holder.entries()].filter(([, h]) => h?.owner === `order:${order.orderId}`);
      if (held.length > 0) problems.cancelled.push(`${order.orderId}: still holds ${held.map(([u]) => u).join(', ')}`);
      if (captured.length > refunded.length) problems.cancelled.push(`${order.orderId}: payment captured and not refunded`);
      const reason = pay.some((e) => e.type === 'PaymentRefused') ? 'payment refused' : order.address === 'undeliverable' && captured.length > 0 ? 'undeliverable, refunded' : 'out of stock';
      cancelledBecause[reason] = (cancelledBecause[reason] ?? 0) + 1;
    }
    if (s === 'SHIPPED') {
      const amount = (captured[0]?.data as { amount?: JsonValue } | undefined)?.amount;
      if (captured.length !== 1 || refunded.length !== 0 || amount !== orderTotal(order)) problems.paid.push(`${order.orderId}: shipped with ${captured.length} captures of ${String(amount)}, ${refunded.length} refunds`);
      if (order.card === 'declined') problems.paid.push(`${order.orderId}: shipped on a declined card`);
    }
  }
  const check = (name: string, list: string[]): Invariant => ({ name, ok: list.length === 0, detail: list.slice(0, 3).join('; ') + (list.length > 3 ? ` … (${list.length})` : '') });
  return {
    ordersByStatus,
    cancelledBecause,
    sagasByState: sagasByState as Census['sagasByState'],
    units: { free, reserved, shipped, total },
    captures,
    refunds,
    invariants: [
      check('every saga terminal (completed or compensated)', problems.terminal),
      check('stock conserved (free + reserved + shipped = stock; shipped = shipped orders)', problems.stock),
      check("every cancelled order's stock released and payment refunded", problems.cancelled),
      check('no payment taken twice, no side effect twice', problems.twice),
      check('every shipped order paid its total once, never on a declined card', problems.paid),
    ],
  };
}
