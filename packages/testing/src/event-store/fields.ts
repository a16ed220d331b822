/**
 * Reads limited to some fields (`fields`): every store yields exactly the asked-for own keys, in
 * the order of the whole event, with the values a whole read gives, and the same events as the
 * whole read would, whatever the other options.
 */
import {
  collect,
  EVENT_FIELDS,
  InvalidArgumentError,
  SchemaRegistry,
  StreamDeletedError,
  type EventField,
  type EventStore,
  type RecordedEvent,
} from '@eventloom/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { many, orderCreated, orderPaid, orderShipped, uniqueCategory } from './fixtures.js';

/** What a read with `fields` must yield for `event` of a whole read. */
function picked(event: RecordedEvent, fields: readonly EventField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of EVENT_FIELDS) if (fields.includes(name)) out[name] = event[name];
  return out;
}

/** Each event has exactly the asked-for keys, in canonical order, with the whole read's values. */
function expectPicked(narrow: readonly unknown[], whole: readonly RecordedEvent[], fields: readonly EventField[]): void {
  const order = EVENT_FIELDS.filter((name) => fields.includes(name));
  expect(narrow).toHaveLength(whole.length);
  narrow.forEach((event, i) => {
    expect(Object.keys(event as object)).toEqual(order);
    expect(event).toStrictEqual(picked(whole[i]!, fields));
  });
}

/** Two streams of one category (events with and without the optional envelope parts) and one of another. */
async function seeded(store: EventStore): Promise<{ category: string; a: string; b: string; other: string }> {
  const category = uniqueCategory();
  const a = `${category}-a`;
  const b = `${category}-b`;
  const other = `${uniqueCategory('other')}-1`;
  await store.appendToStream(a, [
    orderCreated('o1'),
    { ...orderPaid('o1'), metadata: { tenantId: 't1', nested: { deep: [1, 'two'] } }, correlationId: 'corr-1', causationId: 'cause-1' },
    { ...orderShipped('o1'), schemaVersion: 3 },
  ]);
  await store.appendToStream(other, many(2));
  await store.appendToStream(b, [orderCreated('o2'), { ...orderPaid('o2', 7), metadata: { userId: 'u' } }, orderShipped('o2')]);
  await store.appendToStream(a, many(4));
  return { category, a, b, other };
}

const someFields = fc.uniqueArray(fc.constantFrom(...EVENT_FIELDS), { minLength: 1, maxLength: EVENT_FIELDS.length });

export function fieldsTests(ctx: SuiteContext): void {
  describe('reads with fields', () => {
    it('each field alone: exactly that key, with the whole read’s value, on every read path', async () => {
      const store = await ctx.store();
      const { category, a } = await seeded(store);
      const stream = await collect(store.readStream(a));
      const log = await collect(store.readAll());
      const inCategory = await collect(store.readCategory(category));
      for (const field of EVENT_FIELDS) {
        const fields = [field];
        expectPicked(await collect(store.readStream(a, { fields })), stream, fields);
        expectPicked(await collect(store.readAll({ fields })), log, fields);
        expectPicked(await collect(store.readCategory(category, { fields })), inCategory, fields);
      }
    });

    it('any subset, in any order and with repeats, on every read path and option (property)', async () => {
      const store = await ctx.store();
      const { category, a, b } = await seeded(store);
      const log = await collect(store.readAll());
      await fc.assert(
        fc.asyncProperty(
          someFields,
          fc.array(fc.constantFrom(...EVENT_FIELDS), { maxLength: 3 }),
          fc.integer({ min: 1, max: 4 }),
          async (asked, repeats, batchSize) => {
            const fields = [...asked].reverse().concat(repeats.filter((name) => asked.includes(name)));
            const forwards = { fields, batchSize };
            expectPicked(await collect(store.readStream(a, forwards)), await collect(store.readStream(a, { batchSize })), fields);
            const backwards = { direction: 'backwards', fromVersion: 5n, maxCount: 4, batchSize } as const;
            expectPicked(await collect(store.readStream(a, { ...backwards, fields })), await collect(store.readStream(a, backwards)), fields);
            expectPicked(await collect(store.readStream(b, { fromVersion: 2, fields })), await collect(store.readStream(b, { fromVersion: 2 })), fields);
            const from = log[3]!.position;
            const all = { fromPosition: from, maxCount: 6, batchSize };
            expectPicked(await collect(store.readAll({ ...all, fields })), await collect(store.readAll(all)), fields);
            const filter = { eventTypes: ['OrderPaid', 'Counted'], streamPrefixes: [`${category}-`] };
            expectPicked(await collect(store.readAll({ filter, fields, batchSize })), await collect(store.readAll({ filter })), fields);
            expectPicked(
              await collect(store.readAll({ filter: { eventTypes: ['OrderShipped'] }, fields })),
              await collect(store.readAll({ filter: { eventTypes: ['OrderShipped'] } })),
              fields,
            );
            const byType = { eventTypes: ['OrderCreated'], batchSize };
            expectPicked(await collect(store.readCategory(category, { ...byType, fields })), await collect(store.readCategory(category, byType)), fields);
          },
        ),
        { numRuns: 25 },
      );
    });

    it('stream metadata hides the same events: truncateBefore, maxCount, soft delete', async () => {
      const store = await ctx.store();
      const { a, b } = await seeded(store);
      await store.setStreamMetadata(a, { truncateBefore: 3n, maxCount: 4 });
      const fields: EventField[] = ['data'];
      const whole = await collect(store.readStream(a));
      expect(whole.map((e) => e.streamVersion)).toEqual([4n, 5n, 6n, 7n]);
      expectPicked(await collect(store.readStream(a, { fields })), whole, fields);
      expectPicked(await collect(store.readStream(a, { fields, direction: 'backwards', batchSize: 1 })), whole.reverse(), fields);
      await store.deleteStream(b);
      expect(await collect(store.readStream(b, { fields: ['type', 'streamVersion'] }))).toEqual([]);
    });

    it('maxAgeSeconds hides the same events when time is not among the fields', async () => {
      let now = new Date('2026-01-01T00:00:00.000Z');
      const store = await ctx.store({ clock: () => now });
      const { a } = await seeded(store);
      now = new Date('2026-01-01T01:00:00.000Z');
      await store.appendToStream(a, many(2, 'Late'));
      await store.setStreamMetadata(a, { maxAgeSeconds: 600 });
      now = new Date('2026-01-01T01:05:00.000Z');
      for (const fields of [['type'], ['streamVersion', 'data'], ['id', 'time']] as EventField[][]) {
        const narrow = await collect(store.readStream(a, { fields }));
        expectPicked(narrow, await collect(store.readStream(a)), fields);
        expect(narrow).toHaveLength(2);
        expect(await collect(store.readStream(a, { fields, direction: 'backwards' }))).toHaveLength(2);
      }
    });

    it('a tombstoned stream stays unreadable and out of the log', async () => {
      const store = await ctx.store();
      const { a, category } = await seeded(store);
      await store.deleteStream(a, { hard: true });
      await expect(collect(store.readStream(a, { fields: ['type'] }))).rejects.toBeInstanceOf(StreamDeletedError);
      const fields: EventField[] = ['streamId', 'position'];
      const log = await collect(store.readAll({ fields }));
      expectPicked(log, await collect(store.readAll()), fields);
      expect(log.some((e) => e.streamId === a)).toBe(false);
      expect((await collect(store.readCategory(category, { fields: ['streamId'] }))).map((e) => e.streamId)).toEqual([
        `${category}-b`,
        `${category}-b`,
        `${category}-b`,
      ]);
    });

    it('upcasters see the whole event; the fields are those of the upcast event', async () => {
      const schemas = new SchemaRegistry().upcaster<{ orderId: string }, { orderId: string; via: string }>({
        type: 'OrderPaid',
        fromVersion: 1,
        upcast: (data, event) => ({ ...data, via: `${event.streamId}@${event.streamVersion}/${event.correlationId}` }),
      });
      const store = await ctx.store({ schemas });
      const { a, category } = await seeded(store);
      await store.appendToStream(a, [{ ...orderPaid('o9'), schemaVersion: 1, correlationId: 'corr-9' }]);
      const whole = await collect(store.readStream(a));
      expect(whole[7]).toMatchObject({ schemaVersion: 2, data: { via: `${a}@8/corr-9` } });
      for (const fields of [['data'], ['schemaVersion'], ['type', 'data', 'metadata', 'streamVersion']] as EventField[][]) {
        expectPicked(await collect(store.readStream(a, { fields })), whole, fields);
        expectPicked(await collect(store.readCategory(category, { fields })), await collect(store.readCategory(category)), fields);
        expectPicked(await collect(store.readAll({ fields })), await collect(store.readAll()), fields);
      }
    });

    it('refuses bad fields with InvalidArgumentError before reading anything', async () => {
      const store = await ctx.store();
      const { a } = await seeded(store);
      await store.deleteStream(a, { hard: true }); // a read that got as far as the stream would fail otherwise
      const bad: unknown[] = ['type', [], ['type', 'nope'], [1], [null], null, { 0: 'type', length: 1 }, ['Type'], ['__proto__']];
      for (const fields of bad) {
        const reads = [
          store.readStream(a, { fields } as never),
          store.readAll({ fields } as never),
          store.readCategory('order', { fields } as never),
        ];
        for (const read of reads) {
          const iterator = read[Symbol.asyncIterator]();
          const error = await iterator.next().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, `fields ${JSON.stringify(fields)}`).toBeInstanceOf(InvalidArgumentError);
          expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'fields' });
          expect((error as Error).message).toContain(EVENT_FIELDS.join(', '));
        }
      }
      // One order of checks on every store: with another bad option, that one is named.
      for (const read of [
        () => store.readStream(a, { fields: [], batchSize: 0 } as never),
        () => store.readAll({ fields: [], batchSize: 0 } as never),
        () => store.readCategory('order', { fields: [], batchSize: 0 } as never),
      ]) {
        await expect(collect(read())).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'batchSize' });
      }
    });
  });
}
