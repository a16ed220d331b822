/**
 * The choreographed variant: no coordinator. Each service reacts to the others' events (the store
 * is the bus: one named, checkpointed subscription per service), as the seed's event flows say:
 *
 *   OrderCreated → InventoryReserved → PaymentCaptured → ShipmentCreated → OrderShipped
 *   OrderCreated → InventoryReserved → PaymentRefused  → OrderCancelled  → InventoryReleased
 *
 * The order process (a process manager) follows each order's conversation by its order id, keeps
 * its state as events, holds the payment deadline as a durable timer, and says when an order's
 * flow is over. Every reaction's event id is derived from the event it reacts to, so an event
 * handled twice (a crash before the checkpoint moved) records nothing twice.
 */
import {
  derivedId,
  ProcessManager,
  TimerService,
  type Event,
  type EventStore,
  type ProcessManagerDefinition,
  type RecordedEvent,
  type Subscription,
} from '@eventloom/core';
import type { OrderEvent } from '../order/index.js';
import type { PlannedOrder } from './catalogue.js';
import { OutOfStockError, orderTotal, PaymentRefusedError, UndeliverableError, type PaymentEvent, type Services, type ShipmentEvent } from './services/index.js';

export type InventoryEvent =
  | Event<'InventoryReserved', { orderId: string; units: string[] }>
  | Event<'InventoryReservationFailed', { orderId: string; reason: string }>
  | Event<'InventoryReleased', { orderId: string; units: number }>;
export type ShipmentRefused = Event<'ShipmentRefused', { orderId: string; reason: string }>;

export type FlowEvent = OrderEvent | InventoryEvent | PaymentEvent | ShipmentEvent | ShipmentRefused;

/** A reaction's event: its id derived from the event it answers, so handling that event again is a no-op. */
function reply<E extends Event>(to: RecordedEvent, event: E, index = 0) {
  return { ...event, id: derivedId(`${to.id}:reply`, index), correlationId: to.correlationId, causationId: to.id };
}

const orderIdOf = (event: { data: unknown }): string => (event.data as { orderId: string }).orderId;

// #region choreography
/** The services' reactions, each the handler of one service's subscription. */
export function reactions(store: EventStore, services: Services, lookup: (orderId: string) => PlannedOrder) {
  const { orders, inventory, payment, shipping } = services;
  return {
    inventory: async (event: RecordedEvent<FlowEvent>) => {
      const orderId = orderIdOf(event);
      const order = lookup(orderId);
      if (event.type === 'OrderCreated') {
        try {
          const units = await inventory.reserve(orderId, order.productId, order.quantity);
          await store.appendToStream<InventoryEvent>(`inventory-${orderId}`, [reply(event, { type: 'InventoryReserved', data: { orderId, units: [...units] } })]);
        } catch (error) {
          if (!(error instanceof OutOfStockError)) throw error;
          await store.appendToStream<InventoryEvent>(`inventory-${orderId}`, [reply(event, { type: 'InventoryReservationFailed', data: { orderId, reason: error.message } })]);
        }
      } else if (event.type === 'ShipmentCreated') {
        await inventory.commit(orderId, order.productId);
      } else if (event.type === 'OrderCancelled') {
        // Compensation: whatever this order still holds goes back on the shelf.
        const units = await inventory.release(orderId, order.productId);
        await store.appendToStream<InventoryEvent>(`inventory-${orderId}`, [reply(event, { type: 'InventoryReleased', data: { orderId, units } })]);
      }
    },
    payment: async (event: RecordedEvent<FlowEvent>) => {
      const orderId = orderIdOf(event);
      const order = lookup(orderId);
      if (event.type === 'InventoryReserved') {
        try {
          await payment.charge(orderId, orderTotal(order), order.card, derivedId(`${event.id}:charge`), event.correlationId, order.flakyGateway);
        } catch (error) {
          // The refusal is recorded (PaymentRefused) by the payment service itself.
          if (!(error instanceof PaymentRefusedError)) throw error;
        }
      } else if (event.type === 'OrderCancelled') {
        await payment.refund(orderId, derivedId(`${event.id}:refund`), event.correlationId);
      }
    },
    shipping: async (event: RecordedEvent<FlowEvent>) => {
      if (event.type !== 'PaymentCaptured') return;
      const orderId = orderIdOf(event);
      try {
        await shipping.create(orderId, lookup(orderId).address, derivedId(`${event.id}:ship`), event.correlationId);
      } catch (error) {
        if (!(error instanceof UndeliverableError)) throw error;
        await store.appendToStream<ShipmentRefused>(`shipment-${orderId}`, [reply(event, { type: 'ShipmentRefused', data: { orderId, reason: error.message } })]);
      }
    },
    orders: async (event: RecordedEvent<FlowEvent>) => {
      const orderId = orderIdOf(event);
      const key = derivedId(`${event.id}:order`);
      switch (event.type) {
        case 'PaymentCaptured':
          return orders.pay(orderId, event.data.amount, event.data.paymentId, key, event.correlationId);
        case 'ShipmentCreated':
          return orders.ship(orderId, event.data.trackingNumber, key, event.correlationId);
        case 'InventoryReservationFailed':
        case 'PaymentRefused':
        case 'ShipmentRefused':
          return orders.cancel(orderId, event.data.reason, key, event.correlationId);
        default:
          return;
      }
    },
  };
}
// #endregion choreography

// #region order-process
export interface OrderProcess {
  readonly created: boolean;
  readonly captured: boolean;
  readonly refunded: boolean;
  readonly shipped: boolean;
  readonly cancelled: boolean;
  readonly released: boolean;
}

export type OrderProcessCommand = { readonly type: 'CancelOrder'; readonly data: { readonly orderId: string; readonly reason: string } };

/** Follows one order's conversation; over when shipped, or cancelled with its stock back and its payment refunded. */
export const orderProcess: ProcessManagerDefinition<FlowEvent, OrderProcess, OrderProcessCommand> = {
  name: 'orderprocess',
  correlate: (event) => orderIdOf(event),
  initialState: () => ({ created: false, captured: false, refunded: false, shipped: false, cancelled: false, released: false }),
  evolve: (state, message) => {
    switch (message.type) {
      case 'OrderCreated': return { ...state, created: true };
      case 'PaymentCaptured': return { ...state, captured: true };
      case 'PaymentRefunded': return { ...state, refunded: true };
      case 'OrderShipped': return { ...state, shipped: true };
      case 'OrderCancelled': return { ...state, cancelled: true };
      case 'InventoryReleased': return { ...state, released: true };
      default: return state;
    }
  },
  react: (message, state) => {
    switch (message.type) {
      // "Cancel the order if it is not paid in 15 minutes": a durable timer, cancelled by the payment.
      case 'OrderCreated': return { schedule: [{ timer: 'payment-deadline', due: { delayMs: 15 * 60_000 } }] };
      case 'PaymentCaptured':
      case 'PaymentRefused':
      case 'OrderCancelled':
      case 'OrderShipped': return { cancel: ['payment-deadline'] };
      case 'ProcessTimerFired':
        return state.captured || state.cancelled ? [] : [{ type: 'CancelOrder', data: { orderId: message.data.key, reason: 'not paid within 15 minutes' } }];
      default: return [];
    }
  },
  isComplete: (s) => s.shipped || (s.cancelled && s.released && (!s.captured || s.refunded)),
  // It runs partitioned by stream, so an order's facts from other streams may come after its end
  // (OrderShipped before PaymentCaptured): expected here, so ignored rather than logged.
  afterCompletion: 'ignore',
};
// #endregion order-process

export interface Choreography {
  readonly process: ProcessManager<FlowEvent, OrderProcess, OrderProcessCommand>;
  readonly timers: TimerService;
  /** The services' subscriptions and the order process's group member: what `settle()` waits for. */
  readonly consumers: readonly { waitFor(position: bigint, timeoutMs?: number): Promise<void> }[];
  /** Resolves when the process of every order in `orderIds` is over. */
  settled(orderIds: readonly string[], onComplete?: (done: number) => void): Promise<void>;
  stop(): Promise<void>;
}

const FLOW_STREAMS = ['order-', 'inventory-', 'payment-', 'shipment-'];

/** The parts of the choreography; a process runs some or all of them (the distributed mode: one each). */
export type ChoreographyPart = 'inventory' | 'payment' | 'shipping' | 'orders' | 'process';
export const CHOREOGRAPHY_PARTS: readonly ChoreographyPart[] = ['inventory', 'payment', 'shipping', 'orders', 'process'];

export function startChoreography(store: EventStore, services: Services, lookup: (orderId: string) => PlannedOrder, parts: readonly ChoreographyPart[] = CHOREOGRAPHY_PARTS, tuning: { readonly leaseMs?: number } = {}): Choreography {
  const react = reactions(store, services, lookup);
  const complete = new Set<string>();
  let wake: () => void = () => undefined;
  // #region timers
  // Timers live in the store (`timer-<id>` streams): one started after a restart fires what the last one scheduled.
  const timers: TimerService = new TimerService({ store, onFire: (t) => process.onTimer(t) });
  const process: ProcessManager<FlowEvent, OrderProcess, OrderProcessCommand> = new ProcessManager({
    store,
    definition: orderProcess,
    timers,
    dispatch: async (command) => services.orders.cancel(command.data.orderId, command.data.reason, command.id, command.correlationId),
  });
  // #endregion timers
  const retry = { maxAttempts: 10, retryDelayMs: 10 };
  // How soon a standby takes over from a process that died (a restarted service waits this long).
  const lease = tuning.leaseMs === undefined ? {} : { leaseMs: tuning.leaseMs };
  const subscribe = (subscriptionId: string, streamPrefixes: string[], eventTypes: FlowEvent['type'][], handler: (e: RecordedEvent<FlowEvent>) => Promise<unknown>) =>
    store.subscribe<FlowEvent>({ subscriptionId, filter: { streamPrefixes, eventTypes }, handler: async (e) => void (await handler(e)), pollIntervalMs: 20, failurePolicy: retry, logger: false, ...lease });
  const subscriptions: Subscription[] = [];
  const all: [ChoreographyPart, () => Subscription][] = [
    ['inventory', () => subscribe('inventory-service', ['order-', 'shipment-'], ['OrderCreated', 'ShipmentCreated', 'OrderCancelled'], react.inventory)],
    ['payment', () => subscribe('payment-service', ['inventory-', 'order-'], ['InventoryReserved', 'OrderCancelled'], react.payment)],
    ['shipping', () => subscribe('shipping-service', ['payment-'], ['PaymentCaptured'], react.shipping)],
    ['orders', () => subscribe('order-service', ['inventory-', 'payment-', 'shipment-'], ['PaymentCaptured', 'ShipmentCreated', 'InventoryReservationFailed', 'PaymentRefused', 'ShipmentRefused'], react.orders)],
  ];
  for (const [part, start] of all) if (parts.includes(part)) subscriptions.push(start());
  // The order process keeps no order across streams (its state is a set of facts), so it runs as
  // a consumer group: partitions in parallel, two events of one order serialised by its stream's version.
  const processMember = !parts.includes('process') ? null : store.subscribeGroup<FlowEvent>({
    group: 'order-process',
    partitions: 8,
    filter: { streamPrefixes: FLOW_STREAMS },
    pollIntervalMs: 20,
    failurePolicy: retry,
    logger: false,
    ...lease,
    handler: async (event) => {
      await process.handle(event);
      const orderId = orderIdOf(event);
      if (!complete.has(orderId) && (await process.instance(orderId))?.complete) {
        complete.add(orderId);
        wake();
      }
    },
  });
  const members = processMember === null ? [] : [processMember];
  const failed = Promise.race([...subscriptions.map((s) => s.done), ...members.map((m) => m.done)]).then(() => undefined);
  // #region timers-start
  if (parts.includes('process')) timers.start(); // fires due timers every 100 ms; tests call timers.fireDue() after moving a VirtualClock
  // #endregion timers-start
  return {
    process,
    timers,
    consumers: [...subscriptions, ...members],
    async settled(orderIds, onComplete) {
      // After a restart, orders finished before it count too.
      for (const id of orderIds) if (!complete.has(id) && (await process.instance(id))?.complete) complete.add(id);
      for (;;) {
        const done = orderIds.filter((id) => complete.has(id)).length;
        onComplete?.(done);
        if (done === orderIds.length) return;
        await new Promise<void>((resolve, reject) => {
          // A service that stopped on a failure would leave its orders hanging: fail the run instead.
          failed.then(() => reject(new Error('a service subscription stopped before every order settled')), reject);
          const timer = setTimeout(resolve, 250);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async stop() {
      await timers.stop();
      await Promise.all([...subscriptions.map((s) => s.stop()), ...members.map((m) => m.stop())]);
    },
  };
}
