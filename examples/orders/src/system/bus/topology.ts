/**
 * Who says what to whom on the bus. Each service publishes the events of its own streams on its
 * topic (its outbox relay reads them from the store) and reads the topics it reacts to through a
 * group named after itself; commands go to a queue. The event types each group handles are the
 * store subscriptions' filters of the embedded choreography: the rest is acknowledged and skipped.
 */
import type { ConsumeSource } from '@eventloom/core';
import type { ChoreographyPart, FlowEvent } from '../choreographed.js';
import { busName, type BusConfig } from './open-bus.js';

export type Topic = 'orders' | 'inventory' | 'payments' | 'shipments';

/** A service's own streams, relayed to its topic. */
export const PUBLISHES: Readonly<Record<Topic, { readonly owner: ChoreographyPart; readonly streamPrefix: string }>> = {
  orders: { owner: 'orders', streamPrefix: 'order-' },
  inventory: { owner: 'inventory', streamPrefix: 'inventory-' },
  payments: { owner: 'payment', streamPrefix: 'payment-' },
  shipments: { owner: 'shipping', streamPrefix: 'shipment-' },
};

/** What each part reads, by topic: the types it handles. */
export const READS: Readonly<Record<ChoreographyPart, Partial<Record<Topic, readonly FlowEvent['type'][]>>>> = {
  inventory: { orders: ['OrderCreated', 'OrderCancelled'], shipments: ['ShipmentCreated'] },
  payment: { inventory: ['InventoryReserved'], orders: ['OrderCancelled'] },
  shipping: { payments: ['PaymentCaptured'] },
  orders: { inventory: ['InventoryReservationFailed'], payments: ['PaymentCaptured', 'PaymentRefused'], shipments: ['ShipmentCreated', 'ShipmentRefused'] },
  // The order process: the facts its state and reactions are made of.
  process: {
    orders: ['OrderCreated', 'OrderShipped', 'OrderCancelled'],
    inventory: ['InventoryReleased'],
    payments: ['PaymentCaptured', 'PaymentRefused', 'PaymentRefunded'],
  },
};

/** Commands to the order service (the order process's "cancel, not paid in time"). */
export const ORDER_COMMANDS = 'orders.commands';

export function groupOf(part: ChoreographyPart): string {
  return part === 'process' ? 'order-process' : `${part}-service`;
}

export function topicName(bus: BusConfig, topic: Topic): string {
  return busName(bus, `orders-system.${topic}`);
}

/** The groups and queues a part consumes. */
export function sourcesOf(bus: BusConfig, part: ChoreographyPart): { readonly topic: Topic; readonly source: ConsumeSource }[] {
  const topics = Object.keys(READS[part]) as Topic[];
  return topics.map((topic) => ({ topic, source: { topic: topicName(bus, topic), group: groupOf(part) } }));
}

/**
 * Every group and queue of the system. Declared before anything is published: a topic group gets
 * only what is published after it exists (JetStream consumers start at `deliver_policy: new`, RabbitMQ bindings).
 */
export function allSources(bus: BusConfig, parts: readonly ChoreographyPart[]): ConsumeSource[] {
  return [...parts.flatMap((part) => sourcesOf(bus, part).map((s) => s.source)), { queue: busName(bus, ORDER_COMMANDS) }];
}
