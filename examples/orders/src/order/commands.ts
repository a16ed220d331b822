/** What can be asked of an order. */
import type { Command } from '@eventloom/core';
import type { OrderItem } from './events.js';

export type CreateOrder = Command<'CreateOrder', { orderId: string; customerId: string; items: OrderItem[]; currency: string }>;
export type PayOrder = Command<'PayOrder', { amount: number; paymentId: string }>;
export type ShipOrder = Command<'ShipOrder', { carrier: string; trackingNumber: string }>;
export type CancelOrder = Command<'CancelOrder', { reason: string }>;

export type OrderCommand = CreateOrder | PayOrder | ShipOrder | CancelOrder;
