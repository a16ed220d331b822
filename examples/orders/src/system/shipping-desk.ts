/**
 * Commands through the transport: the saga's ship step does not call the shipping service; it
 * sends `CreateShipment` to the `shipping` queue (correlation = the saga id, causation = the
 * step's attempt, id derived from the step's idempotency key) and waits for the service's reply
 * on `order-saga.replies`, matched by causation. A step retried after a timeout or a crash sends
 * the same command again; the service's create is idempotent by order and answers again.
 */
import type { Consumer, JsonValue, SagaStepContext, Transport } from '@eventloom/core';
import type { PlannedOrder } from './catalogue.js';
import { UndeliverableError, type Services } from './services/index.js';

type CreateShipment = { readonly type: 'CreateShipment'; readonly data: { readonly orderId: string; readonly address: 'ok' | 'undeliverable' } };
type ShippingReply =
  | { readonly type: 'ShipmentCreated'; readonly data: { readonly orderId: string; readonly trackingNumber: string } }
  | { readonly type: 'ShipmentRefused'; readonly data: { readonly orderId: string; readonly reason: string } };

export const SHIPPING_QUEUE = 'shipping';
export const REPLY_QUEUE = 'order-saga.replies';

/** The shipping service's end: handles `CreateShipment` from the queue and replies. */
export function serveShipping(transport: Transport, services: Services): Consumer {
  return transport.consume<CreateShipment>(
    { queue: SHIPPING_QUEUE },
    {
      CreateShipment: async (message, context) => {
        const { orderId, address } = message.data;
        try {
          const trackingNumber = await services.shipping.create(orderId, address, message.id, message.correlationId);
          await context.send(REPLY_QUEUE, { type: 'ShipmentCreated', data: { orderId, trackingNumber } });
        } catch (error) {
          if (!(error instanceof UndeliverableError)) throw error;
          await context.send(REPLY_QUEUE, { type: 'ShipmentRefused', data: { orderId, reason: error.message } });
        }
      },
    },
    { concurrency: 8, logger: false },
  );
}

/** The saga's end: sends the command and waits for its reply. */
export class ShippingDesk {
  readonly #waiting = new Map<string, (reply: ShippingReply) => void>();
  readonly replies: Consumer;

  constructor(private readonly transport: Pick<Transport, 'consume'>) {
    const settle = (reply: ShippingReply & { causationId: string | null }) => {
      // A reply nobody waits for (its step was retried, or the process restarted) is dropped: the retry has its own.
      if (reply.causationId !== null) this.#waiting.get(reply.causationId)?.(reply);
    };
    this.replies = transport.consume<ShippingReply>(
      { queue: REPLY_QUEUE },
      { ShipmentCreated: (m) => settle(m), ShipmentRefused: (m) => settle(m) },
      { concurrency: 8, logger: false },
    );
  }

  /** Resolves with the tracking number; rejects the step (no retry) when the carrier refuses. */
  async ship(c: SagaStepContext<PlannedOrder>): Promise<JsonValue> {
    const command = c.command<CreateShipment>({ type: 'CreateShipment', data: { orderId: c.input.orderId, address: c.input.address } });
    const reply = new Promise<ShippingReply>((resolve, reject) => {
      this.#waiting.set(command.id, resolve);
      c.signal.addEventListener('abort', () => reject(new Error('no reply from shipping in time')), { once: true });
    });
    try {
      await c.send(SHIPPING_QUEUE, command);
      const answer = await reply;
      if (answer.type === 'ShipmentRefused') return c.reject(answer.data.reason);
      return answer.data.trackingNumber;
    } finally {
      this.#waiting.delete(command.id);
    }
  }
}
