/**
 * One projection module, compiled once and run unchanged on every store (memory, SQLite,
 * PostgreSQL): plain `async` handlers, a declared collection with an index, and a reader that
 * pages a customer's orders newest first. The projection conformance suite runs it on each.
 */
import { defineCollection, defineProjection, type Page, type ReadModelStore } from '@eventloom/core';
import type { OrderEvent } from './fixtures.js';

export interface CustomerOrder {
  orderId: string;
  customerId: string;
  total: number;
  /** When the order was placed: the recorded time of its OrderCreated event. */
  placedAt: string;
  status: 'open' | 'paid' | 'shipped';
}

export const customerOrders = defineCollection<CustomerOrder>('customer-orders', {
  indexes: { byCustomer: ['customerId', 'placedAt'] },
});

export const customerOrdersProjection = defineProjection<OrderEvent>({
  name: 'portable-customer-orders',
  version: 1,
  collections: [customerOrders],
  handlers: {
    OrderCreated: async (event, { collection }) => {
      const { orderId, customerId, total } = event.data;
      await collection(customerOrders).upsert(orderId, { orderId, customerId, total, placedAt: event.time, status: 'open' });
    },
    OrderPaid: async (event, { collection }) => {
      await collection(customerOrders).update(event.data.orderId, (order) => ({ ...order, status: 'paid' }));
    },
    OrderShipped: async (event, { collection }) => {
      await collection(customerOrders).update(event.data.orderId, (order) => ({ ...order, status: 'shipped' }));
    },
  },
});

/** A customer's orders, newest first, a page at a time. */
export function getCustomerOrders(
  readModels: ReadModelStore,
  customerId: string,
  page: { readonly limit?: number; readonly after?: string | null } = {},
): Promise<Page<CustomerOrder>> {
  return readModels.read(customerOrdersProjection.name, (view) =>
    view.collection(customerOrders).findPage({ where: { customerId }, orderBy: [['placedAt', 'desc']], limit: page.limit ?? 20, after: page.after ?? null }),
  );
}
