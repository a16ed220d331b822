/** The given events → then read model helper of @eventloom/testing, on the reference order projections. */
import { defineProjection, type Event } from '@eventloom/core';
import { givenEvents, projectionFixtures } from '@eventloom/testing';
import { describe, expect, it } from 'vitest';

type OrderPlaced = Event<'OrderPlaced', { orderId: string; total: number }>;

const dailySales = defineProjection<OrderPlaced>({
  name: 'daily-sales',
  version: 1,
  handlers: {
    OrderPlaced: async (event, read) => {
      const day = event.time.slice(0, 10);
      const sales = read.collection<{ day: string; orders: number; total: number }>('days');
      const current = (await sales.get(day)) ?? { day, orders: 0, total: 0 };
      await sales.upsert(day, { day, orders: current.orders + 1, total: current.total + event.data.total });
    },
  },
});

describe('givenEvents', () => {
  it('builds the read model from the given events and checks documents by id', async () => {
    await givenEvents(projectionFixtures.orderSummaryProjection(), [
      { streamId: 'order-1', type: 'OrderCreated', data: { orderId: '1', customerId: 'c1', total: 30 } },
      { streamId: 'order-2', type: 'OrderCreated', data: { orderId: '2', customerId: 'c2', total: 5 } },
      { streamId: 'order-1', type: 'OrderPaid', data: { orderId: '1', amount: 30 } },
    ]).thenDocuments('orders', {
      '1': { orderId: '1', customerId: 'c1', total: 30, paid: 30, status: 'paid' },
      '2': { orderId: '2', customerId: 'c2', total: 5, paid: 0, status: 'open' },
    });
  });

  it('fails when the collection holds other documents than expected', async () => {
    const scenario = givenEvents(projectionFixtures.orderSummaryProjection(), [
      { streamId: 'order-1', type: 'OrderCreated', data: { orderId: '1', customerId: 'c1', total: 30 } },
      { streamId: 'order-2', type: 'OrderCreated', data: { orderId: '2', customerId: 'c2', total: 5 } },
    ]);
    await expect(scenario.thenDocuments('orders', { '1': { orderId: '1', customerId: 'c1', total: 30, paid: 0, status: 'open' } })).rejects.toThrow(
      /number of documents in orders/,
    );
    await expect(scenario.thenDocuments('orders', { '1': { orderId: '1' }, '2': { orderId: '2' } })).rejects.toThrow(/documents of orders/);
  });

  it('gives events the times they are given, for projections over time', async () => {
    await givenEvents(dailySales, [
      { streamId: 'order-1', type: 'OrderPlaced', data: { orderId: '1', total: 10 }, time: '2025-05-01T09:00:00.000Z' },
      { streamId: 'order-2', type: 'OrderPlaced', data: { orderId: '2', total: 15 }, time: '2025-05-01T17:30:00.000Z' },
      { streamId: 'order-3', type: 'OrderPlaced', data: { orderId: '3', total: 7 }, time: new Date('2025-05-02T08:00:00.000Z') },
    ]).thenReadModel(async (view) => {
      const days = view.collection<{ day: string; orders: number; total: number }>('days');
      expect(await days.find()).toEqual([
        { day: '2025-05-01', orders: 2, total: 25 },
        { day: '2025-05-02', orders: 1, total: 7 },
      ]);
    });
  });

  it('reports a handler failure, and thenFails matches it', async () => {
    const strict = defineProjection<OrderPlaced>({
      name: 'strict',
      version: 1,
      handlers: {
        OrderPlaced: (event) => {
          if (event.data.total <= 0) throw new RangeError(`order ${event.data.orderId} has no total`);
        },
      },
    });
    const events = [{ streamId: 'order-9', type: 'OrderPlaced' as const, data: { orderId: '9', total: 0 } }];
    const failure = await givenEvents(strict, events).thenFails(/RangeError: order 9 has no total/);
    expect(failure).toMatchObject({ eventType: 'OrderPlaced', streamId: 'order-9', attempts: 1 });
    await expect(givenEvents(strict, events).thenReadModel(() => undefined)).rejects.toThrow(/strict@1 failed on OrderPlaced \(stream order-9\)/);
    await expect(givenEvents(dailySales, [{ type: 'OrderPlaced', data: { orderId: '1', total: 1 } }]).thenFails()).rejects.toThrow(/to fail/);
  });
});
