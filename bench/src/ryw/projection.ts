/**
 * W8's projection: one document per order, in a declared collection, written by a plain async
 * handler — the same module on SQLite and PostgreSQL.
 */
import { defineCollection, defineProjection, type Event } from '@eventloom/core';

export type OrderCreated = Event<'OrderCreated', { orderId: string; customerId: string; total: number }>;

export interface OrderDocument {
  orderId: string;
  customerId: string;
  total: number;
}

/** The category W8 writes and its projection reads. */
export const RYW_CATEGORY = 'ryw';

export const rywOrders = defineCollection<OrderDocument>('orders', { indexes: { byCustomer: ['customerId'] } });

export const rywProjection = defineProjection<OrderCreated>({
  name: 'bench-ryw-orders',
  version: 1,
  categories: [RYW_CATEGORY],
  collections: [rywOrders],
  handlers: {
    OrderCreated: async (event, { collection }) => {
      const { orderId, customerId, total } = event.data;
      await collection(rywOrders).upsert(event.streamId, { orderId, customerId, total });
    },
  },
});
