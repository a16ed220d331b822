/** Schemas of the order's events (zod, through Standard Schema) and the upcaster from OrderCreated v1. */
import { SchemaRegistry } from '@eventloom/core';
import { z } from 'zod';

const item = z.object({ productId: z.string().min(1), quantity: z.number().int().positive(), price: z.number().nonnegative() });

export const OrderCreatedV1 = z.object({ orderId: z.string(), customerId: z.string(), items: z.array(item).min(1) });
export const OrderCreatedV2 = OrderCreatedV1.extend({ totalAmount: z.number().nonnegative(), currency: z.string().length(3) });
export const OrderPaidV1 = z.object({ orderId: z.string(), amount: z.number().positive(), paymentId: z.string() });
export const OrderShippedV1 = z.object({ orderId: z.string(), carrier: z.string(), trackingNumber: z.string() });
export const OrderCancelledV1 = z.object({ orderId: z.string(), reason: z.string() });

export function orderSchemas(registry = new SchemaRegistry()): SchemaRegistry {
  return registry
    .register('OrderCreated', 1, OrderCreatedV1)
    .register('OrderCreated', 2, OrderCreatedV2)
    .upcaster<z.infer<typeof OrderCreatedV1>, z.infer<typeof OrderCreatedV2>>({
      type: 'OrderCreated',
      fromVersion: 1,
      // v1 orders were all in US dollars and did not record their total.
      upcast: (data) => ({
        ...data,
        currency: 'USD',
        totalAmount: Math.round(data.items.reduce((sum, i) => sum + i.quantity * i.price, 0) * 100) / 100,
      }),
    })
    .register('OrderPaid', 1, OrderPaidV1)
    .register('OrderShipped', 1, OrderShippedV1)
    .register('OrderCancelled', 1, OrderCancelledV1);
}
