/** The event every workload writes: an `OrderCreated` with two items, about 220 bytes of JSON. */
import type { BenchEventInput, FoldEvent } from './target.js';

interface OrderItem {
  readonly productId: string;
  readonly quantity: number;
  readonly price: number;
}

/** Distinct per call, so no store can profit from identical payloads. */
export function orderCreated(n: number): BenchEventInput {
  const orderId = `ord-${n.toString().padStart(8, '0')}`;
  return {
    type: 'OrderCreated',
    data: {
      orderId,
      customerId: `cust-${(n % 9973).toString().padStart(5, '0')}`,
      total: 104.98,
      items: [
        { productId: 'prod-kettle', quantity: 2, price: 49.99 },
        { productId: 'prod-filter', quantity: 1, price: 5 },
      ] satisfies OrderItem[],
      placedAt: '2025-01-15T10:30:00.000Z',
    },
  };
}

export function orderBatch(first: number, count: number): BenchEventInput[] {
  const out: BenchEventInput[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = orderCreated(first + i);
  return out;
}

export interface OrdersFold {
  orders: number;
  units: number;
  revenue: number;
}

export function initialFold(): OrdersFold {
  return { orders: 0, units: 0, revenue: 0 };
}

/** Touches the data of every event, so a store cannot win by not decoding it. */
export function evolve(state: OrdersFold, event: FoldEvent): OrdersFold {
  const items = (event.data as { items?: OrderItem[] }).items ?? [];
  state.orders++;
  for (const item of items) {
    state.units += item.quantity;
    state.revenue += item.quantity * item.price;
  }
  return state;
}

export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(orderCreated(1).data));
