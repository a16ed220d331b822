/** The seed's `OrderSummary` read model: one document per order, kept by a projection. */
import { defineProjection, type ProjectionHandle } from '@eventloom/core';
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

export const orderSummaries = defineProjection<OrderEvent>({
  name: 'order-summary',
  version: 1,
  categories: ['order'],
  handlers: {
    OrderCreated: (event, read) => {
      const { orderId, customerId, totalAmount, currency, items } = event.data;
      read.collection<OrderSummary>('orders').upsert(orderId, {
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
    OrderPaid: (event, read) => setStatus(read, event.data.orderId, 'PAID', event.time),
    OrderShipped: (event, read) => setStatus(read, event.data.orderId, 'SHIPPED', event.time),
    OrderCancelled: (event, read) => setStatus(read, event.data.orderId, 'CANCELLED', event.time),
  },
});

function setStatus(read: ProjectionHandle, orderId: string, status: OrderSummary['status'], time: string): void {
  read.collection<OrderSummary>('orders').update(orderId, (order) => ({ ...order, status, updatedAt: time }));
}
