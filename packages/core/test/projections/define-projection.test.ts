/** Declaring projections: handlers typed by the event union, event types from the handler keys, bad definitions refused. */
import { defineProjection, InvalidArgumentError, MemoryReadModelStore, type Event, type ProjectionHandle, type RecordedEvent } from '@eventloom/core';
import { projectionNamespace } from '@eventloom/core/adapter';
import { describe, expect, expectTypeOf, it } from 'vitest';

type OrderCreated = Event<'OrderCreated', { orderId: string; total: number }>;
type OrderPaid = Event<'OrderPaid', { orderId: string; amount: number }>;
type OrderEvent = OrderCreated | OrderPaid;

function recorded<E extends OrderEvent>(event: E, position = 1n): RecordedEvent<E> {
  return {
    ...event,
    id: '0190c3f2-0000-7000-8000-000000000001',
    schemaVersion: 1,
    streamId: 'order-1',
    streamVersion: position,
    position,
    time: '2025-01-01T00:00:00.000Z',
    source: 'test',
    correlationId: 'c',
    causationId: null,
    metadata: {},
  } as RecordedEvent<E>;
}

describe('defineProjection', () => {
  it('types each handler by its event and derives the event types from the handler keys', () => {
    const projection = defineProjection<OrderEvent>({
      name: 'totals',
      version: 3,
      handlers: {
        OrderPaid: (event, read) => {
          expectTypeOf(event.data).toEqualTypeOf<{ orderId: string; amount: number }>();
          expectTypeOf(event.position).toEqualTypeOf<bigint>();
          expectTypeOf(read).toEqualTypeOf<ProjectionHandle>();
        },
      },
    });
    expect(projection.eventTypes).toEqual(['OrderPaid']);
    expect(projection.filter).toEqual({ eventTypes: ['OrderPaid'] });
    expect(projection.namespace).toEqual({ name: 'totals', version: 3, namespace: 'totals@3' });
    expectTypeOf(projection.eventTypes).toEqualTypeOf<readonly ('OrderCreated' | 'OrderPaid')[]>();
    defineProjection<OrderEvent>({
      name: 'typo',
      version: 1,
      // @ts-expect-error: not an event type of the union
      handlers: { OrderShipped: () => undefined },
    });
  });

  it('applies the handler of the event type and leaves unknown types alone', async () => {
    const seen: string[] = [];
    const projection = defineProjection<OrderEvent>({
      name: 'seen',
      version: 1,
      handlers: { OrderCreated: (event) => void seen.push(event.data.orderId) },
    });
    const store = new MemoryReadModelStore();
    await store.transaction((tx) => {
      const handle = tx.handle(projectionNamespace('seen', 1));
      projection.apply(recorded({ type: 'OrderCreated', data: { orderId: 'a', total: 1 } }), handle);
      projection.apply(recorded({ type: 'OrderPaid', data: { orderId: 'b', amount: 1 } }), handle);
      projection.apply({ ...recorded({ type: 'OrderCreated', data: { orderId: 'c', total: 1 } }), type: 'SomethingNew' } as RecordedEvent, handle);
    });
    expect(seen).toEqual(['a']);
  });

  it('reads only the given categories', () => {
    const projection = defineProjection<OrderEvent>({ name: 'c', version: 1, categories: ['order', 'legacyOrder'], handlers: { OrderPaid: () => undefined } });
    expect(projection.filter).toEqual({ eventTypes: ['OrderPaid'], streamPrefixes: ['order-', 'legacyOrder-'] });
  });

  it.each([
    ['an empty name', { name: '', version: 1 }, /projection name/],
    ['a name with spaces', { name: 'order summary', version: 1 }, /projection name/],
    ['version 0', { name: 'a', version: 0 }, /projection version.*positive integer/],
    ['a fractional version', { name: 'a', version: 1.5 }, /projection version/],
    ['no handlers', { name: 'a', version: 1, handlers: {} }, /at least one event type/],
    ['a handler that is not a function', { name: 'a', version: 1, handlers: { OrderPaid: 'x' } }, /handler for OrderPaid.*function/],
    ['a category with a dash', { name: 'a', version: 1, categories: ['order-x'] }, /categories/],
    ['an unknown failure policy', { name: 'a', version: 1, failurePolicy: { onFailure: 'ignore' } }, /onFailure must be 'stop' or 'dead-letter'/],
    ['zero attempts', { name: 'a', version: 1, failurePolicy: { maxAttempts: 0 } }, /maxAttempts/],
    ['a bad batch size', { name: 'a', version: 1, batchSize: 0 }, /batchSize/],
  ])('refuses %s with InvalidArgumentError', (_, overrides, message) => {
    const definition = { handlers: { OrderPaid: () => undefined }, ...overrides };
    expect(() => defineProjection(definition as never)).toThrow(InvalidArgumentError);
    expect(() => defineProjection(definition as never)).toThrow(message);
  });
});
