/** Schema validation on append (Standard Schema) and upcasting on read. */
import { collect, InvalidEventError, SchemaRegistry, type Event } from '@eventloom/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { readStreamAll, settledLogOf, uniqueStream } from './fixtures.js';

/** A tiny Standard Schema by hand, so the suite needs no validation library. */
function objectSchema(fields: Record<string, 'string' | 'number'>): StandardSchemaV1<Record<string, unknown>> {
  return {
    '~standard': {
      version: 1,
      vendor: 'eventloom-test',
      validate(value) {
        if (value === null || typeof value !== 'object') return { issues: [{ message: 'expected an object' }] };
        const issues: StandardSchemaV1.Issue[] = [];
        for (const [key, type] of Object.entries(fields)) {
          const v = (value as Record<string, unknown>)[key];
          if (typeof v !== type) issues.push({ message: `expected ${type}`, path: [key] });
        }
        return issues.length ? { issues } : { value: value as Record<string, unknown> };
      },
    },
  };
}

type CreatedV2 = Event<'OrderCreated', { orderId: string; total: number; currency: string }>;

function registry(): SchemaRegistry {
  return new SchemaRegistry()
    .register('OrderCreated', 1, objectSchema({ orderId: 'string', total: 'number' }))
    .register('OrderCreated', 2, objectSchema({ orderId: 'string', total: 'number', currency: 'string' }))
    .upcaster<{ orderId: string; total: number }, CreatedV2['data']>({
      type: 'OrderCreated',
      fromVersion: 1,
      upcast: (data) => ({ ...data, currency: 'USD' }),
    });
}

export function schemaTests(ctx: SuiteContext): void {
  describe('schemas and upcasting', () => {
    it('rejects data that does not match the schema, naming the field, writing nothing', async () => {
      const store = await ctx.store({ schemas: registry() });
      const streamId = uniqueStream();
      const error = await store
        .appendToStream(streamId, [{ type: 'OrderCreated', data: { orderId: 'o1', total: 'ten', currency: 'EUR' } }])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect((error as InvalidEventError).field).toBe('events[0].data.total');
      expect((error as InvalidEventError).issues).toEqual([{ path: 'events[0].data.total', message: 'expected number' }]);
      expect(await readStreamAll(store, streamId)).toEqual([]);
    });

    it('records new events at the latest schema version', async () => {
      const store = await ctx.store({ schemas: registry() });
      const streamId = uniqueStream();
      await store.appendToStream(streamId, [{ type: 'OrderCreated', data: { orderId: 'o1', total: 5, currency: 'EUR' } }]);
      const [event] = await readStreamAll(store, streamId);
      expect(event).toMatchObject({ schemaVersion: 2, data: { currency: 'EUR' } });
    });

    it('upcasts old versions on every read path', async () => {
      const store = await ctx.store({ schemas: registry() });
      const streamId = uniqueStream();
      await store.appendToStream(streamId, [
        { type: 'OrderCreated', schemaVersion: 1, data: { orderId: 'o1', total: 5 } },
        { type: 'Unregistered', data: { kept: true } },
      ]);
      const expected = { schemaVersion: 2, data: { orderId: 'o1', total: 5, currency: 'USD' } };
      expect((await readStreamAll<CreatedV2>(store, streamId))[0]).toMatchObject(expected);
      expect((await settledLogOf(store, streamId, 2))[0]).toMatchObject(expected);
      expect((await collect(store.readCategory('order', { eventTypes: ['OrderCreated'] }))).find((e) => e.streamId === streamId)).toMatchObject(expected);
      expect((await readStreamAll(store, streamId))[1]).toMatchObject({ schemaVersion: 1, data: { kept: true } });
    });
  });
}
