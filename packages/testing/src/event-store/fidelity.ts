/** What a store accepts reads back identical, whoever holds a reference to it. */
import { collect, type EventStore, type RecordedEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { readStreamAll, uniqueStream } from './fixtures.js';

const STRINGS = ['plain', 'é ü ß', '日本語', 'emoji 🎉 pair', '\u{10FFFF}', 'tab\there', 'quote " and \\ backslash', '\uFFFD', ''];

async function readBack(store: EventStore, streamId: string): Promise<RecordedEvent[]> {
  return readStreamAll(store, streamId);
}

export function fidelityTests(ctx: SuiteContext): void {
  describe('fidelity', () => {
    it('reads back well-formed Unicode identical in ids, types, correlation, data and metadata', async () => {
      const store = await ctx.store();
      const streamId = `${uniqueStream()}-🎉-é`;
      const data = Object.fromEntries(STRINGS.map((text, i) => [`k${i}${text}`, text]));
      await store.appendToStream(streamId, [
        { type: 'Typed🎉é', data, metadata: { userId: '🎉', note: STRINGS }, correlationId: 'corr-日本', causationId: 'cause-\u{10FFFF}' },
      ]);
      const [event] = await readBack(store, streamId);
      expect(event!.streamId).toBe(streamId);
      expect(event!.type).toBe('Typed🎉é');
      expect(event!.data).toStrictEqual(data);
      expect(event!.metadata).toStrictEqual({ userId: '🎉', note: STRINGS });
      expect(event!.correlationId).toBe('corr-日本');
      expect(event!.causationId).toBe('cause-\u{10FFFF}');
    });

    it('records -0 as 0, in the append result and in every read', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const result = await store.appendToStream(streamId, [{ type: 'Zero', data: { z: -0, list: [-0, 1] }, metadata: { m: -0 } }]);
      const [read] = await readBack(store, streamId);
      const [logged] = await collect(store.readAll({ fromPosition: result.position, maxCount: 1 }));
      for (const event of [result.events[0]!, read!, logged!]) {
        expect(Object.is((event.data as { z: number }).z, 0)).toBe(true);
        expect(Object.is((event.data as { list: number[] }).list[0], 0)).toBe(true);
        expect(Object.is(event.metadata.m, 0)).toBe(true);
      }
    });

    it('keeps numbers at the edges of doubles exact', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const numbers = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 0.1 + 0.2, 1e21, 1e-7, 2 ** 64];
      await store.appendToStream(streamId, [{ type: 'Numbers', data: { numbers } }]);
      const [event] = await readBack(store, streamId);
      expect((event!.data as { numbers: number[] }).numbers).toStrictEqual(numbers);
    });

    it('gives callers copies: changing a result, a read event or stream metadata changes no later read', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const result = await store.appendToStream(streamId, [{ type: 'Kept', data: { n: 1, list: [1] }, metadata: { userId: 'u' } }]);
      await store.setStreamMetadata(streamId, { maxCount: 10, custom: { owner: 'a', tags: ['x'] } });
      const tryTo = (change: () => void) => {
        try {
          change();
        } catch {
          // A frozen object refuses the change, which is as good as a copy.
        }
      };
      const appended = result.events[0] as { data: { n: number; list: number[] }; metadata: Record<string, unknown> };
      tryTo(() => (appended.data.n = 99));
      tryTo(() => appended.data.list.push(99));
      tryTo(() => (appended.metadata.userId = 'mallory'));
      const [read] = await readBack(store, streamId);
      const readData = read!.data as { n: number; list: number[] };
      tryTo(() => (readData.n = 98));
      tryTo(() => readData.list.push(98));
      const info = await store.streamInfo(streamId);
      const custom = info.metadata.custom as { owner: string; tags: string[] };
      tryTo(() => (custom.owner = 'mallory'));
      tryTo(() => custom.tags.push('y'));
      const [again] = await readBack(store, streamId);
      expect(again!.data).toStrictEqual({ n: 1, list: [1] });
      expect(again!.metadata).toStrictEqual({ userId: 'u' });
      expect((await store.streamInfo(streamId)).metadata).toStrictEqual({ maxCount: 10, custom: { owner: 'a', tags: ['x'] } });
    });

    it("keeps the caller's event objects out of the store: changing them after the append changes nothing", async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const data = { n: 1, nested: { list: [1] } };
      const metadata = { userId: 'u' };
      const custom = { owner: 'a' };
      await store.appendToStream(streamId, [{ type: 'Kept', data, metadata }]);
      await store.setStreamMetadata(streamId, { custom });
      data.n = 2;
      data.nested.list.push(2);
      metadata.userId = 'mallory';
      custom.owner = 'mallory';
      const [event] = await readBack(store, streamId);
      expect(event!.data).toStrictEqual({ n: 1, nested: { list: [1] } });
      expect(event!.metadata).toStrictEqual({ userId: 'u' });
      expect((await store.streamInfo(streamId)).metadata.custom).toStrictEqual({ owner: 'a' });
    });

  });
}
