/** The order service: the seed's Order aggregate behind a command handler; every call is keyed, so a retry writes nothing. */
import { CommandHandler, type EventStore } from '@eventloom/core';
import { Order, orderDecider, OrderRuleError, orderStreamId, type OrderCommand, type OrderEvent } from '../../order/index.js';
import type { PlannedOrder } from '../catalogue.js';

export class OrderService {
  readonly #orders: CommandHandler<OrderCommand, OrderEvent, Order>;

  constructor(readonly store: EventStore) {
    this.#orders = new CommandHandler(store, orderDecider);
  }

  async create(order: PlannedOrder, key: string, correlationId: string): Promise<void> {
    await this.#orders.handle(orderStreamId(order.orderId), {
      type: 'CreateOrder',
      id: key,
      correlationId,
      data: { orderId: order.orderId, customerId: order.customerId, currency: 'EUR', items: [{ productId: order.productId, quantity: order.quantity, price: order.price }] },
    });
  }

  async pay(orderId: string, amount: number, paymentId: string, key: string, correlationId: string): Promise<void> {
    await this.#orders.handle(orderStreamId(orderId), { type: 'PayOrder', id: key, correlationId, data: { amount, paymentId } });
  }

  async ship(orderId: string, trackingNumber: string, key: string, correlationId: string): Promise<void> {
    await this.#orders.handle(orderStreamId(orderId), { type: 'ShipOrder', id: key, correlationId, data: { carrier: 'DHL', trackingNumber } });
  }

  /** Cancelling a cancelled order is a no-op; an order never created has nothing to cancel. */
  async cancel(orderId: string, reason: string, key: string, correlationId: string): Promise<void> {
    try {
      await this.#orders.handle(orderStreamId(orderId), { type: 'CancelOrder', id: key, correlationId, data: { reason } });
    } catch (error) {
      if (error instanceof OrderRuleError && /does not exist/.test(error.message)) return;
      throw error;
    }
  }

  async status(orderId: string): Promise<Order> {
    const events: OrderEvent[] = [];
    for await (const event of this.store.readStream<OrderEvent>(orderStreamId(orderId))) events.push(event);
    return Order.fromEvents(events);
  }
}

export function orderTotal(order: PlannedOrder): number {
  return Math.round(order.price * order.quantity * 100) / 100;
}
