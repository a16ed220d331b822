/** Reads: streams forwards and backwards, batches, the global log and categories with filters. */
import { collect, type ReadStreamOptions, type WholeEvents } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { many, orderCreated, orderPaid, orderShipped, readStreamAll, settledLogOf, uniqueCategory, uniqueStream } from './fixtures.js';

export function readTests(ctx: SuiteContext): void {
  describe('readStream', () => {
    it('reads an unknown stream as empty', async () => {
      const store = await ctx.store();
      expect(await readStreamAll(store, uniqueStream())).toEqual([]);
    });

    it('reads forwards and backwards, from a version, with a max count', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(10));
      const versions = async (options: ReadStreamOptions & WholeEvents) =>
        (await readStreamAll(store, streamId, options)).map((e) => Number(e.streamVersion));
      expect(await versions({})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await versions({ fromVersion: 4n, maxCount: 3 })).toEqual([4, 5, 6]);
      expect(await versions({ fromVersion: 9 })).toEqual([9, 10]);
      expect(await versions({ fromVersion: 11n })).toEqual([]);
      expect(await versions({ direction: 'backwards' })).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      expect(await versions({ direction: 'backwards', fromVersion: 5n, maxCount: 2 })).toEqual([5, 4]);
      expect(await versions({ direction: 'backwards', maxCount: 1 })).toEqual([10]);
      expect(await versions({ maxCount: 0 })).toEqual([]);
    });

    it('reads a long stream in batches, in order, every event once', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      for (let i = 0; i < 5; i++) await store.appendToStream(streamId, many(247));
      const events = await readStreamAll<{ type: string; data: { n: number } }>(store, streamId, { batchSize: 100 });
      expect(events).toHaveLength(1235);
      expect(events.map((e) => Number(e.streamVersion))).toEqual(Array.from({ length: 1235 }, (_, i) => i + 1));
      const backwards = await readStreamAll(store, streamId, { batchSize: 64, direction: 'backwards' });
      expect(backwards.map((e) => Number(e.streamVersion))).toEqual(Array.from({ length: 1235 }, (_, i) => 1235 - i));
    });

    it('does not mix streams that share a prefix', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(2));
      await store.appendToStream(`${streamId}0`, many(3));
      await store.appendToStream(`${streamId}-x`, many(4));
      expect(await readStreamAll(store, streamId)).toHaveLength(2);
    });

    it('treats ids with quotes, wildcards and SQL as data', async () => {
      const store = await ctx.store();
      const base = uniqueStream();
      const ids = [`${base}'; DROP TABLE events; --`, `${base}%_*`, `${base}"\\`, `${base}-ünï🙂`];
      for (const id of ids) await store.appendToStream(id, many(1));
      for (const id of ids) {
        const events = await readStreamAll(store, id);
        expect(events.map((e) => e.streamId)).toEqual([id]);
      }
      const log = await settledLogOf(store, base, ids.length);
      expect(log.map((e) => e.streamId).sort()).toEqual([...ids].sort());
      expect(await collect(store.readAll({ filter: { streamPrefixes: [`${base}%`] } }))).toHaveLength(1);
    });
  });

  describe('readAll and readCategory', () => {
    it('reads the log in global order from a position, with a max count', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const a = `${category}-a`;
      const b = `${category}-b`;
      await store.appendToStream(a, many(2));
      await store.appendToStream(b, many(2));
      await store.appendToStream(a, many(1));
      const log = await settledLogOf(store, `${category}-`, 5);
      expect(log.map((e) => `${e.streamId}:${e.streamVersion}`)).toEqual([`${a}:1`, `${a}:2`, `${b}:1`, `${b}:2`, `${a}:3`]);
      for (let i = 1; i < log.length; i++) expect(log[i]!.position).toBeGreaterThan(log[i - 1]!.position);
      const fromThird = await collect(store.readAll({ fromPosition: log[2]!.position, filter: { streamPrefixes: [`${category}-`] } }));
      expect(fromThird.map((e) => e.id)).toEqual(log.slice(2).map((e) => e.id));
      const two = await collect(store.readAll({ fromPosition: log[1]!.position, maxCount: 2, filter: { streamPrefixes: [`${category}-`] } }));
      expect(two.map((e) => e.id)).toEqual([log[1]!.id, log[2]!.id]);
    });

    it('filters by event type and by stream prefix', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      const other = uniqueCategory();
      await store.appendToStream(`${category}-1`, [orderCreated('1'), orderPaid('1')]);
      await store.appendToStream(`${other}-1`, [orderCreated('2'), orderShipped('2')]);
      await store.appendToStream(`${category}-2`, [orderCreated('3'), orderShipped('3')]);
      await settledLogOf(store, `${category}-`, 4);
      await settledLogOf(store, `${other}-`, 2);
      const paidOrShipped = await collect(
        store.readAll({ filter: { eventTypes: ['OrderPaid', 'OrderShipped'], streamPrefixes: [`${category}-`, `${other}-`] } }),
      );
      expect(paidOrShipped.map((e) => `${e.streamId}/${e.type}`)).toEqual([
        `${category}-1/OrderPaid`,
        `${other}-1/OrderShipped`,
        `${category}-2/OrderShipped`,
      ]);
      const inCategory = await collect(store.readCategory(category));
      expect(inCategory.map((e) => e.streamId)).toEqual([`${category}-1`, `${category}-1`, `${category}-2`, `${category}-2`]);
      const createdInCategory = await collect(store.readCategory(category, { eventTypes: ['OrderCreated'] }));
      expect(createdInCategory.map((e) => e.data)).toMatchObject([{ orderId: '1' }, { orderId: '3' }]);
      expect(await collect(store.readCategory(uniqueCategory()))).toEqual([]);
    });

    it('reads a large log in batches, every event exactly once', async () => {
      const store = await ctx.store();
      const category = uniqueCategory();
      for (let i = 0; i < 12; i++) await store.appendToStream(`${category}-${i % 3}`, many(100));
      await settledLogOf(store, `${category}-`, 1200);
      const events = await collect(store.readAll({ batchSize: 77, filter: { streamPrefixes: [`${category}-`] } }));
      expect(events).toHaveLength(1200);
      expect(new Set(events.map((e) => e.id)).size).toBe(1200);
      for (let i = 1; i < events.length; i++) expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position);
    });
  });
}
