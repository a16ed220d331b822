/**
 * The reference system's saga and order process under @eventloom/testing's helpers: given/when/then
 * for the process manager, sagaSpec for the orchestrated saga, and settle() waiting for the whole
 * choreography to go quiet — on the memory store, no sleeps.
 */
import { derivedId, MemoryEventStore, MemoryTransport, SagaStepRejectedError } from '@eventloom/core';
import { processManagerSpec, sagaSpec, settle } from '@eventloom/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogue, createServices, orderProcess, orderSaga, plannedOrders, serveShipping, ShippingDesk, startChoreography, type FlowEvent, type PlannedOrder } from '../src/system/index.js';

const order: PlannedOrder = { orderId: 'o1', customerId: 'c1', productId: 'keyboard', quantity: 2, price: 10, card: 'ok', address: 'ok', flakyGateway: false };
const created: FlowEvent = { type: 'OrderCreated', data: { orderId: 'o1', customerId: 'c1', items: [], totalAmount: 20, currency: 'EUR' } };

describe('the order process (processManagerSpec)', () => {
  const spec = processManagerSpec(orderProcess);

  it('holds a payment deadline from the order on, and lets the payment cancel it', () => {
    spec.given([]).when(created).then({ commands: [], schedule: ['payment-deadline'] });
    spec.given([created]).when({ type: 'PaymentCaptured', data: { orderId: 'o1', amount: 20, paymentId: 'p', key: 'k' } }).then({ commands: [], cancel: ['payment-deadline'] });
  });

  it('cancels an order the deadline finds unpaid, and only then', () => {
    // #region pm-spec
    const fired = { type: 'ProcessTimerFired', data: { key: 'o1', timer: 'orderprocess_o1_payment-deadline' } } as const;
    spec.given([created]).when(fired).then({ commands: [{ type: 'CancelOrder', data: { orderId: 'o1', reason: 'not paid within 15 minutes' } }] });
    spec.given([created, { type: 'PaymentCaptured', data: { orderId: 'o1', amount: 20, paymentId: 'p', key: 'k' } }]).when(fired).then({ commands: [] });
    // #endregion pm-spec
  });

  it('is over once shipped, or once cancelled with stock released and payment refunded', () => {
    const captured = { type: 'PaymentCaptured', data: { orderId: 'o1', amount: 20, paymentId: 'p', key: 'k' } } as const;
    const cancelled = { type: 'OrderCancelled', data: { orderId: 'o1', reason: 'x' } } as const;
    spec.given([created]).when({ type: 'OrderShipped', data: { orderId: 'o1', carrier: 'DHL', trackingNumber: 't' } }).thenComplete();
    spec.given([created, captured, cancelled]).when({ type: 'InventoryReleased', data: { orderId: 'o1', units: 2 } }).thenComplete(false);
    spec.given([created, captured, cancelled, { type: 'InventoryReleased', data: { orderId: 'o1', units: 2 } }])
      .when({ type: 'PaymentRefunded', data: { orderId: 'o1', amount: 20, paymentId: 'p', key: 'k' } })
      .thenComplete();
    spec.given([created, { type: 'OrderShipped', data: { orderId: 'o1', carrier: 'DHL', trackingNumber: 't' } }]).when(captured).thenLate();
  });
});

describe('the order saga (sagaSpec)', () => {
  const transports: MemoryTransport[] = [];
  afterAll(() => Promise.all(transports.map((t) => t.close())));
  /** A memory store and transport with the shipping service consuming its queue. */
  const world = (units = 10) => {
    const store = new MemoryEventStore();
    const transport = new MemoryTransport();
    transports.push(transport);
    const services = createServices(store, [{ productId: 'keyboard', price: 10, units }]);
    serveShipping(transport, services);
    return { store, transport, services, desk: new ShippingDesk(transport) };
  };
  const run = (input: PlannedOrder, units = 10) => {
    const { store, transport, services, desk } = world(units);
    return sagaSpec(orderSaga(services, desk), { store, transport }).when(input.orderId, input);
  };

  it('completes: order created, stock reserved, paid, shipped', async () => {
    (await run(order)).thenCompleted(['create-order', 'reserve-stock', 'take-payment', 'ship']);
  });

  it('a declined card undoes the reservation and the order, newest first', async () => {
    (await run({ ...order, card: 'declined' })).thenCompensated({ failedStep: 'take-payment', compensated: ['reserve-stock', 'create-order'], error: /card declined/ });
  });

  it('an undeliverable address refunds the payment too', async () => {
    // #region saga-spec
    const { store, transport, services, desk } = world();
    const outcome = await sagaSpec(orderSaga(services, desk), { store, transport }).when('o1', { ...order, address: 'undeliverable' });
    outcome.thenCompensated({ failedStep: 'ship', compensated: ['take-payment', 'reserve-stock', 'create-order'] });
    // #endregion saga-spec
  });

  it('sold out: refused at once, not retried', async () => {
    const outcome = await run(order, 1);
    outcome.thenCompensated({ failedStep: 'reserve-stock', compensated: ['create-order'], error: new RegExp(SagaStepRejectedError.name) });
    expect(outcome.status.history.filter((h) => h.type === 'SagaStepStarted' && h.step === 'reserve-stock')).toHaveLength(1);
  });

  it('a gateway timing out once is retried with the same key, and the payment is taken once', async () => {
    const outcome = await run({ ...order, flakyGateway: true });
    outcome.thenCompleted();
    expect(outcome.status.history.filter((h) => h.step === 'take-payment').map((h) => h.type)).toEqual(['SagaStepStarted', 'SagaStepFailed', 'SagaStepStarted', 'SagaStepCompleted']);
  });
});

describe('the choreography (settle)', () => {
  it('settles every order of a small load on the memory store, with nothing left reserved', async () => {
    const store = new MemoryEventStore();
    const planned = plannedOrders(24);
    const services = createServices(store, catalogue(24));
    const choreography = startChoreography(store, services, (id) => planned.find((o) => o.orderId === id)!);
    try {
      for (const o of planned) await services.orders.create(o, derivedId(`checkout:${o.orderId}`), `checkout-${o.orderId}`);
      await choreography.settled(planned.map((o) => o.orderId));
      // #region settle
      // Waits until every consumer has passed the log's head and the head has stopped moving.
      const head = await settle({ store, consumers: choreography.consumers, timers: [choreography.timers] });
      // #endregion settle
      expect(head).toBe(await store.headPosition());
      const states = await Promise.all(planned.map((o) => choreography.process.instance(o.orderId)));
      expect(states.every((s) => s?.complete)).toBe(true);
      const units = await services.inventory.census();
      expect(units.filter((u) => u.state === 'RESERVED')).toEqual([]);
    } finally {
      await choreography.stop();
    }
  });
});
