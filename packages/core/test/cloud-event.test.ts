import { collect, fromCloudEvent, MemoryEventStore, toCloudEvent } from '@eventloom/core';
import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';

describe('CloudEvents 1.0 mapping', () => {
  it('produces events the CloudEvents SDK validates, and reads them back unchanged over HTTP', async () => {
    const store = new MemoryEventStore({ source: 'order-service' });
    await store.appendToStream('order-1', [
      {
        type: 'OrderCreated',
        data: { orderId: '1', items: [{ sku: 'a', quantity: 2 }] },
        correlationId: 'corr-1',
        causationId: 'cmd-1',
        metadata: { tenantId: 'acme', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', note: 'x' },
      },
      { type: 'OrderPaid', data: { amount: 10 } },
    ]);
    for (const event of await collect(store.readStream('order-1'))) {
      const sdkEvent = new CloudEvent(toCloudEvent(event) as unknown as Record<string, unknown>);
      expect(sdkEvent.validate()).toBe(true);
      for (const message of [HTTP.binary(sdkEvent), HTTP.structured(sdkEvent)]) {
        const received = HTTP.toEvent({ headers: message.headers, body: message.body }) as CloudEvent<unknown>;
        expect(received.subject).toBe('order-1');
        expect(fromCloudEvent(received as unknown as Record<string, unknown>)).toEqual(event);
      }
    }
  });

  it('refuses a CloudEvent without the required attributes', () => {
    expect(() => fromCloudEvent({ type: 'X', source: 's' })).toThrow(/cloudEvent.id/);
    expect(() => fromCloudEvent({ id: '1', type: 'X', source: 's', sequence: 'abc' })).toThrow(/cloudEvent.sequence/);
  });
});
