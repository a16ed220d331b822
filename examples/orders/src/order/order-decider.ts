/** Serves the `Order` class through Eventloom's command handler. */
import { aggregateDecider } from '@eventloom/core';
import type { OrderCommand } from './commands.js';
import type { OrderEvent } from './events.js';
import { Order } from './order.js';

export const orderDecider = aggregateDecider<Order, OrderEvent, OrderCommand>(
  () => new Order(),
  (order, command) => {
    switch (command.type) {
      case 'CreateOrder':
        return order.create(command.data.orderId, command.data.customerId, command.data.items, command.data.currency);
      case 'PayOrder':
        return order.pay(command.data.amount, command.data.paymentId);
      case 'ShipOrder':
        return order.ship(command.data.carrier, command.data.trackingNumber);
      case 'CancelOrder':
        return order.cancel(command.data.reason);
    }
  },
);

export const orderStreamId = (orderId: string): string => `order-${orderId}`;
