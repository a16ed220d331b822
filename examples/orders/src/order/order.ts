/** The seed's `Order` aggregate root: methods check the rules and raise events; `apply` changes state. */
import { AggregateRoot } from '@eventloom/core';
import type { OrderEvent, OrderItem } from './events.js';

export type OrderStatus = 'NEW' | 'PENDING' | 'PAID' | 'SHIPPED' | 'CANCELLED';

/** A command broke one of the order's rules; nothing was recorded. */
export class OrderRuleError extends Error {
  readonly code = 'ORDER_RULE_VIOLATED';

  constructor(
    readonly orderId: string,
    message: string,
  ) {
    super(`Order ${orderId}: ${message}`);
    this.name = 'OrderRuleError';
  }
}

export interface OrderSnapshot {
  readonly id: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly items: readonly OrderItem[];
  readonly totalAmount: number;
  readonly currency: string;
  readonly paidAmount: number;
}

export class Order extends AggregateRoot<OrderEvent> {
  id = '';
  customerId = '';
  status: OrderStatus = 'NEW';
  items: readonly OrderItem[] = [];
  totalAmount = 0;
  currency = 'USD';
  paidAmount = 0;

  /** Replays `events` into a new order, as the seed's `Order.fromEvents`. */
  static fromEvents(events: Iterable<OrderEvent>): Order {
    const order = new Order();
    for (const event of events) order.applyRecorded(event);
    return order;
  }

  static fromSnapshot(snapshot: OrderSnapshot): Order {
    return Object.assign(new Order(), snapshot, { items: [...snapshot.items] });
  }

  create(orderId: string, customerId: string, items: readonly OrderItem[], currency: string): void {
    if (this.status !== 'NEW') throw new OrderRuleError(orderId, 'already exists');
    if (items.length === 0) throw new OrderRuleError(orderId, 'must have items');
    if (items.some((item) => item.quantity <= 0 || item.price < 0)) {
      throw new OrderRuleError(orderId, 'items need a positive quantity and a non-negative price');
    }
    const totalAmount = Math.round(items.reduce((sum, item) => sum + item.quantity * item.price, 0) * 100) / 100;
    this.raise({ type: 'OrderCreated', data: { orderId, customerId, items: [...items], totalAmount, currency } });
  }

  pay(amount: number, paymentId: string): void {
    this.#require('PENDING', 'be paid');
    if (amount !== this.totalAmount) {
      throw new OrderRuleError(this.id, `payment of ${amount} does not match the total ${this.totalAmount} ${this.currency}`);
    }
    this.raise({ type: 'OrderPaid', data: { orderId: this.id, amount, paymentId } });
  }

  ship(carrier: string, trackingNumber: string): void {
    this.#require('PAID', 'be shipped');
    this.raise({ type: 'OrderShipped', data: { orderId: this.id, carrier, trackingNumber } });
  }

  cancel(reason: string): void {
    if (this.status === 'NEW') throw new OrderRuleError(this.id || '(unknown)', 'does not exist');
    if (this.status === 'SHIPPED') throw new OrderRuleError(this.id, 'has shipped and can no longer be cancelled');
    if (this.status === 'CANCELLED') return; // cancelling twice is a no-op, so retries are safe
    this.raise({ type: 'OrderCancelled', data: { orderId: this.id, reason } });
  }

  toSnapshot(): OrderSnapshot {
    const { id, customerId, status, items, totalAmount, currency, paidAmount } = this;
    return { id, customerId, status, items, totalAmount, currency, paidAmount };
  }

  protected apply(event: OrderEvent): void {
    switch (event.type) {
      case 'OrderCreated':
        this.id = event.data.orderId;
        this.customerId = event.data.customerId;
        this.items = event.data.items;
        this.totalAmount = event.data.totalAmount;
        this.currency = event.data.currency;
        this.status = 'PENDING';
        break;
      case 'OrderPaid':
        this.paidAmount = event.data.amount;
        this.status = 'PAID';
        break;
      case 'OrderShipped':
        this.status = 'SHIPPED';
        break;
      case 'OrderCancelled':
        this.status = 'CANCELLED';
        break;
      // Unknown types are skipped: they may come from a newer writer.
    }
  }

  #require(status: OrderStatus, action: string): void {
    if (this.status === 'NEW') throw new OrderRuleError(this.id || '(unknown)', 'does not exist');
    if (this.status !== status) throw new OrderRuleError(this.id, `is ${this.status} and cannot ${action}`);
  }
}
