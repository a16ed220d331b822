/**
 * The seed's `OrderSummary` read model: one document per order, kept by a projection, and the
 * seed's `getCustomerOrders(customerId)` — newest first, a page at a time — over a declared index.
 * Plain `async` handlers: the same module runs on memory, SQLite and PostgreSQL.
 */
// #region declare
import { defineCollection, defineProjection, type Page, type ProjectionHandle, type ReadModelStore } from '@eventloom/core';
import type { OrderEvent } from '../order/index.js';

export interface OrderSummary {
  readonly orderId: string;
  readonly customerId: string;
  readonly totalAmount: number;
  readonly currency: string;
  readonly itemCount: number;
  readonly status: 'PENDING' | 'PAID' | 'SHIPPED' | 'CANCELLED';
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Declared once: the document type, and an index for "a customer's orders by time". */
export const orders = defineCollection<OrderSummary>('orders', {
  indexes: { byCustomer: ['customerId', 'createdAt'] },
});

export const orderSummaries = defineProjection<OrderEvent>({
  name: 'order-summary',
  version: 1,
  categories: ['order'],
  collections: [orders],
  handlers: {
    OrderCreated: async (event, { collection }) => {
      const { orderId, customerId, totalAmount, currency, items } = event.data;
      await collection(orders).upsert(orderId, {
        orderId,
        customerId,
        totalAmount,
        currency,
        itemCount: items.reduce((n, item) => n + item.quantity, 0),
        status: 'PENDING',
        createdAt: event.time,
        updatedAt: event.time,
      });
    },
    OrderPaid: (event, handle) => setStatus(handle, event.data.orderId, 'PAID', event.time),
    OrderShipped: (event, handle) => setStatus(handle, event.data.orderId, 'SHIPPED', event.time),
    OrderCancelled: (event, handle) => setStatus(handle, event.data.orderId, 'CANCELLED', event.time),
  },
});

async function setStatus(handle: ProjectionHandle, orderId: string, status: OrderSummary['status'], time: string): Promise<void> {
  await handle.collection(orders).update(orderId, (order) => ({ ...order, status, updatedAt: time }));
}
// #endregion declare

// #region get-customer-orders
/** The seed's query: a customer's orders, newest first; pass the last page's `next` for the page after it. */
export function getCustomerOrders(
  readModels: ReadModelStore,
  customerId: string,
  page: { readonly limit?: number; readonly after?: string | null } = {},
): Promise<Page<OrderSummary>> {
  return readModels.read('order-summary', (view) =>
    view.collection(orders).findPage({
      where: { customerId },
      orderBy: [['createdAt', 'desc']],
      limit: page.limit ?? 20,
      after: page.after ?? null,
    }),
  );
}
// #endregion get-customer-orders
