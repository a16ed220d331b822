import type { EventStore } from '@eventloom/core';
import type { Product } from '../catalogue.js';
import { InventoryService } from './inventory-service.js';
import { OrderService } from './order-service.js';
import { PaymentService } from './payment-service.js';
import { ShippingService } from './shipping-service.js';

export { InventoryService, OutOfStockError } from './inventory-service.js';
export { OrderService, orderTotal } from './order-service.js';
export { PaymentService, PaymentRefusedError, type PaymentEvent } from './payment-service.js';
export { ShippingService, UndeliverableError, type ShipmentEvent } from './shipping-service.js';

/** The four services, each with its own streams; in the embedded run they share one store. */
export interface Services {
  readonly orders: OrderService;
  readonly inventory: InventoryService;
  readonly payment: PaymentService;
  readonly shipping: ShippingService;
}

export function createServices(store: EventStore, products: readonly Product[]): Services {
  return { orders: new OrderService(store), inventory: new InventoryService(store, products), payment: new PaymentService(store), shipping: new ShippingService(store) };
}
