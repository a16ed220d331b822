/** The shipping service: one stream `shipment-<orderId>`; creating and cancelling are idempotent. */
import { collect, isEventloomError, type Event, type EventStore } from '@eventloom/core';

export type ShipmentEvent =
  | Event<'ShipmentCreated', { orderId: string; trackingNumber: string; key: string }>
  | Event<'ShipmentCancelled', { orderId: string; key: string }>;

export class UndeliverableError extends Error {
  constructor(readonly orderId: string) {
    super(`the carrier refuses the address of ${orderId}`);
    this.name = 'UndeliverableError';
  }
}

export class ShippingService {
  constructor(readonly store: EventStore) {}

  async create(orderId: string, address: 'ok' | 'undeliverable', key: string, correlationId: string): Promise<string> {
    if (address === 'undeliverable') throw new UndeliverableError(orderId);
    for (;;) {
      const events = await collect(this.store.readStream<ShipmentEvent>(`shipment-${orderId}`));
      const created = events.find((e) => e.type === 'ShipmentCreated');
      if (created?.type === 'ShipmentCreated') return created.data.trackingNumber;
      try {
        await this.store.appendToStream<ShipmentEvent>(`shipment-${orderId}`, [{ type: 'ShipmentCreated', data: { orderId, trackingNumber: `TRK-${orderId}`, key }, correlationId }], {
          expectedVersion: events.at(-1)?.streamVersion ?? 0n,
        });
      } catch (error) {
        if (!(isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION')) throw error;
      }
    }
  }

  async cancel(orderId: string, key: string, correlationId: string): Promise<void> {
    const events = await collect(this.store.readStream<ShipmentEvent>(`shipment-${orderId}`));
    if (!events.some((e) => e.type === 'ShipmentCreated') || events.some((e) => e.type === 'ShipmentCancelled')) return;
    await this.store.appendToStream<ShipmentEvent>(`shipment-${orderId}`, [{ type: 'ShipmentCancelled', data: { orderId, key }, correlationId }], {
      expectedVersion: events.at(-1)!.streamVersion,
    });
  }
}
