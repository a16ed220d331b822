import { collect, CommandHandler, InvalidEventError, MemoryEventStore } from '@eventloom/core';
import { deciderSpec } from '@eventloom/testing';
import { describe, expect, it } from 'vitest';
import { Order, orderDecider, OrderRuleError, orderSchemas, type OrderCreated, type OrderEvent } from '../src/order/index.js';

const items = [
  { productId: 'prod-a', quantity: 2, price: 49.99 },
  { productId: 'prod-b', quantity: 1, price: 5 },
];
const created: OrderCreated = {
  type: 'OrderCreated',
  data: { orderId: 'o1', customerId: 'c1', items, totalAmount: 104.98, currency: 'EUR' },
};

describe('Order (given/when/then)', () => {
  const spec = deciderSpec(orderDecider);

  it('is created with its total', () => {
    spec
      .given([])
      .when({ type: 'CreateOrder', data: { orderId: 'o1', customerId: 'c1', items, currency: 'EUR' } })
      .then([created]);
  });

  it('must have items', () => {
    spec
      .given([])
      .when({ type: 'CreateOrder', data: { orderId: 'o1', customerId: 'c1', items: [], currency: 'EUR' } })
      .thenThrows(OrderRuleError, 'must have items');
  });

  it('is paid with the exact total', () => {
    spec
      .given([created])
      .when({ type: 'PayOrder', data: { amount: 104.98, paymentId: 'pay-1' } })
      .then([{ type: 'OrderPaid', data: { orderId: 'o1', amount: 104.98, paymentId: 'pay-1' } }]);
    spec.given([created]).when({ type: 'PayOrder', data: { amount: 1, paymentId: 'pay-1' } }).thenThrows(OrderRuleError, /does not match/);
  });

  it('ships only when paid, and cannot be cancelled once shipped', () => {
    spec.given([created]).when({ type: 'ShipOrder', data: { carrier: 'ups', trackingNumber: 't' } }).thenThrows(OrderRuleError);
    const paid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1', amount: 104.98, paymentId: 'p' } };
    const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId: 'o1', carrier: 'ups', trackingNumber: 't' } };
    spec.given([created, paid]).when({ type: 'ShipOrder', data: { carrier: 'ups', trackingNumber: 't' } }).then([shipped]);
    spec.given([created, paid, shipped]).when({ type: 'CancelOrder', data: { reason: 'late' } }).thenThrows(OrderRuleError, /shipped/);
  });

  it('cancelling twice records one cancellation', () => {
    const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId: 'o1', reason: 'changed mind' } };
    spec.given([created, cancelled]).when({ type: 'CancelOrder', data: { reason: 'again' } }).thenNothing();
    spec
      .given([created])
      .when({ type: 'CancelOrder', data: { reason: 'changed mind' } })
      .thenState((order) => expect(order.status).toBe('CANCELLED'));
  });

  it('rebuilds from events like the seed: Order.fromEvents', () => {
    const order = Order.fromEvents([created, { type: 'OrderPaid', data: { orderId: 'o1', amount: 104.98, paymentId: 'p' } }]);
    expect(order).toMatchObject({ id: 'o1', status: 'PAID', paidAmount: 104.98, currency: 'EUR' });
    expect(order.version).toBe(2n);
  });
});

describe('Order events on a store with schemas', () => {
  it('rejects schema-invalid data and upcasts OrderCreated v1 to v2 on read', async () => {
    const store = new MemoryEventStore({ schemas: orderSchemas() });
    const error = await store
      .appendToStream('order-bad', [{ ...created, data: { ...created.data, currency: 'euro' } }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({ code: 'INVALID_EVENT', field: 'events[0].data.currency' });
    await store.appendToStream('order-old', [
      { type: 'OrderCreated', schemaVersion: 1, data: { orderId: 'old', customerId: 'c', items } },
    ]);
    const [event] = await collect(store.readStream<OrderEvent>('order-old'));
    expect(event).toMatchObject({ schemaVersion: 2, data: { currency: 'USD', totalAmount: 104.98 } });
    const handler = new CommandHandler(store, orderDecider);
    const paid = await handler.handle('order-old', { type: 'PayOrder', data: { amount: 104.98, paymentId: 'p' } });
    expect(paid.state.status).toBe('PAID');
  });
});
