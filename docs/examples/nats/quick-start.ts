/**
 * The quick start of packages/nats/README.md: a billing service's command queue on NATS
 * JetStream. Run by packages/nats/test/readme.test.ts against a real server.
 */
import type { Consumer, Transport } from '@eventloom/core';
import { openNatsTransport } from '@eventloom/nats';

type ChargeCard = { readonly type: 'ChargeCard'; readonly data: { readonly orderId: string; readonly cents: number } };

export async function quickStart(servers: string, prefix: string, charged: (orderId: string, cents: number) => void): Promise<{ transport: Transport; consumer: Consumer }> {
  // #region quick-start
  const transport = await openNatsTransport({ servers, prefix, source: 'billing' });
  const consumer = transport.consume<ChargeCard>(
    { queue: 'billing.charge-card' },
    { ChargeCard: (message) => charged(message.data.orderId, message.data.cents) },
    { concurrency: 4, failurePolicy: { maxAttempts: 5, retryDelayMs: 200 } },
  );
  await consumer.ready;
  // Resolves once JetStream has acknowledged (PubAck) the message; its id is its Nats-Msg-Id.
  await transport.send<ChargeCard>('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-1', cents: 1299 }, partitionKey: 'o-1' });
  // #endregion quick-start
  return { transport, consumer };
}
