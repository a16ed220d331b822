/**
 * The payment service: one stream `payment-<orderId>`. A capture is refused when the card is
 * declined, and never happens twice for an order: a retried charge (same key, after a crash or a
 * timeout) finds the capture it made and returns it.
 */
import { collect, isEventloomError, type Event, type EventStore } from '@eventloom/core';

export type PaymentEvent =
  | Event<'PaymentCaptured', { orderId: string; amount: number; paymentId: string; key: string }>
  | Event<'PaymentRefused', { orderId: string; amount: number; reason: string; key: string }>
  | Event<'PaymentRefunded', { orderId: string; amount: number; paymentId: string; key: string }>;

export class PaymentRefusedError extends Error {
  constructor(readonly orderId: string, readonly reason: string) {
    super(`payment for ${orderId} refused: ${reason}`);
    this.name = 'PaymentRefusedError';
  }
}

export class PaymentService {
  /** Keys the simulated gateway has already timed out on (once per key and process). */
  readonly #timedOut = new Set<string>();

  constructor(readonly store: EventStore) {}

  async history(orderId: string): Promise<{ events: PaymentEvent[]; version: bigint }> {
    const events = await collect(this.store.readStream<PaymentEvent>(`payment-${orderId}`));
    return { events, version: events.at(-1)?.streamVersion ?? 0n };
  }

  /** Captures `amount`; returns the payment id. Throws `PaymentRefusedError` for a declined card. */
  async charge(orderId: string, amount: number, card: 'ok' | 'declined', key: string, correlationId: string, flakyGateway = false): Promise<string> {
    if (flakyGateway && !this.#timedOut.has(key)) {
      this.#timedOut.add(key);
      throw new Error(`payment gateway timed out for ${orderId}`);
    }
    for (;;) {
      const { events, version } = await this.history(orderId);
      const captured = events.find((e) => e.type === 'PaymentCaptured');
      if (captured !== undefined) return captured.data.paymentId;
      const refused = events.find((e) => e.type === 'PaymentRefused');
      if (refused !== undefined) throw new PaymentRefusedError(orderId, refused.data.reason);
      const event: PaymentEvent =
        card === 'declined'
          ? { type: 'PaymentRefused', data: { orderId, amount, reason: 'card declined', key } }
          : { type: 'PaymentCaptured', data: { orderId, amount, paymentId: `pay-${orderId}`, key } };
      try {
        await this.store.appendToStream<PaymentEvent>(`payment-${orderId}`, [{ ...event, correlationId }], { expectedVersion: version });
      } catch (error) {
        if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') continue;
        throw error;
      }
    }
  }

  /** Refunds a capture not yet refunded; nothing to do otherwise. Idempotent. */
  async refund(orderId: string, key: string, correlationId: string): Promise<boolean> {
    for (;;) {
      const { events, version } = await this.history(orderId);
      const captured = events.find((e) => e.type === 'PaymentCaptured');
      if (captured === undefined || captured.type !== 'PaymentCaptured' || events.some((e) => e.type === 'PaymentRefunded')) return false;
      try {
        await this.store.appendToStream<PaymentEvent>(
          `payment-${orderId}`,
          [{ type: 'PaymentRefunded', data: { orderId, amount: captured.data.amount, paymentId: captured.data.paymentId, key }, correlationId }],
          { expectedVersion: version },
        );
        return true;
      } catch (error) {
        if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') continue;
        throw error;
      }
    }
  }
}
