/** The order's events: a storage contract — names and shapes change only through new versions. */
import type { Event } from '@eventloom/core';

export interface OrderItem {
  readonly productId: string;
  readonly quantity: number;
  readonly price: number;
}

/** v2 added `currency` and `totalAmount`; v1 events are upcast on read (see schemas.ts). */
export type OrderCreated = Event<
  'OrderCreated',
  { orderId: string; customerId: string; items: OrderItem[]; totalAmount: number; currency: string }
>;
export type OrderPaid = Event<'OrderPaid', { orderId: string; amount: number; paymentId: string }>;
export type OrderShipped = Event<'OrderShipped', { orderId: string; carrier: string; trackingNumber: string }>;
export type OrderCancelled = Event<'OrderCancelled', { orderId: string; reason: string }>;

export type OrderEvent = OrderCreated | OrderPaid | OrderShipped | OrderCancelled;
