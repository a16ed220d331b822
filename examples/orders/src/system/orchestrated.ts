/**
 * The orchestrated variant: one saga per order drives the four services in order, and undoes the
 * completed steps in reverse order when one fails (stock sold out, card declined). Every call
 * passes the step's idempotency key, so a step retried after a crash acts once.
 */
import { defineSaga, derivedId, type SagaDefinition } from '@eventloom/core';
import type { PlannedOrder } from './catalogue.js';
import { OutOfStockError, orderTotal, PaymentRefusedError, type Services } from './services/index.js';
import type { ShippingDesk } from './shipping-desk.js';

// #region order-saga
export function orderSaga(services: Services, desk: ShippingDesk): SagaDefinition<PlannedOrder> {
  const { orders, inventory, payment, shipping } = services;
  return defineSaga({
    name: 'order-fulfilment',
    steps: [
      {
        name: 'create-order',
        action: async (c) => void (await orders.create(c.input, c.idempotencyKey, c.sagaId)),
        compensate: async (c) => orders.cancel(c.input.orderId, 'saga compensated', c.idempotencyKey, c.sagaId),
      },
      {
        name: 'reserve-stock',
        action: async (c) => {
          try {
            return [...(await inventory.reserve(c.input.orderId, c.input.productId, c.input.quantity))];
          } catch (error) {
            if (error instanceof OutOfStockError) c.reject(error.message);
            throw error;
          }
        },
        compensate: async (c) => void (await inventory.release(c.input.orderId, c.input.productId)),
      },
      {
        name: 'take-payment',
        retry: { maxAttempts: 3, baseDelayMs: 5 },
        timeoutMs: 10_000,
        action: async (c) => {
          const total = orderTotal(c.input);
          try {
            const paymentId = await payment.charge(c.input.orderId, total, c.input.card, c.idempotencyKey, c.sagaId, c.input.flakyGateway);
            await orders.pay(c.input.orderId, total, paymentId, derivedId(c.idempotencyKey, 1), c.sagaId);
            return paymentId;
          } catch (error) {
            if (error instanceof PaymentRefusedError) c.reject(error.message);
            throw error;
          }
        },
        compensate: async (c) => void (await payment.refund(c.input.orderId, c.idempotencyKey, c.sagaId)),
      },
      {
        name: 'ship',
        timeoutMs: 30_000,
        retry: { maxAttempts: 5, baseDelayMs: 50 },
        action: async (c) => {
          // Through the transport: CreateShipment on the shipping queue, the reply awaited.
          const tracking = String(await desk.ship(c));
          await inventory.commit(c.input.orderId, c.input.productId);
          await orders.ship(c.input.orderId, tracking, derivedId(c.idempotencyKey, 1), c.sagaId);
          return tracking;
        },
        compensate: async (c) => shipping.cancel(c.input.orderId, c.idempotencyKey, c.sagaId),
      },
    ],
  });
}
// #endregion order-saga
