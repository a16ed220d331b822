/** Appends: envelope, expected versions, idempotent retries, atomicity. */
import {
  DuplicateEventIdError,
  isUuid,
  uuidv7,
  WrongExpectedVersionError,
  type AppendResult,
  type ExpectedVersion,
} from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { eventually, many, orderCreated, orderPaid, readStreamAll, uniqueStream } from './fixtures.js';

export function appendTests(ctx: SuiteContext): void {
  describe('append', () => {
    it('records the full envelope', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const before = Date.now();
      const result = await store.appendToStream(streamId, [
        orderCreated('o1', { metadata: { tenantId: 't1', userId: 'u1' }, correlationId: 'corr-1', causationId: 'cmd-1' }),
        orderPaid('o1'),
      ]);
      expect(result.nextExpectedVersion).toBe(2n);
      expect(result.idempotent).toBe(false);
      const events = await readStreamAll(store, streamId);
      expect(events).toHaveLength(2);
      const [created, paid] = events;
      expect(isUuid(created!.id)).toBe(true);
      expect(created!.id.charAt(14)).toBe('7'); // UUIDv7
      expect(created).toMatchObject({
        type: 'OrderCreated',
        schemaVersion: 1,
        streamId,
        streamVersion: 1n,
        correlationId: 'corr-1',
        causationId: 'cmd-1',
        metadata: { tenantId: 't1', userId: 'u1' },
        data: { orderId: 'o1', items: [{ productId: 'prod-a', quantity: 2, price: 49.99 }, { productId: 'prod-b' }] },
      });
      expect(typeof created!.source).toBe('string');
      expect(created!.source.length).toBeGreaterThan(0);
      expect(new Date(created!.time).toISOString()).toBe(created!.time);
      expect(Date.parse(created!.time)).toBeGreaterThanOrEqual(before - 1000);
      expect(paid!.streamVersion).toBe(2n);
      expect(paid!.correlationId).toBe(paid!.id); // a root event starts its own conversation
      expect(paid!.causationId).toBeNull();
      expect(paid!.position).toBeGreaterThan(created!.position);
      expect(result.position).toBe(paid!.position);
      expect(result.events.map((e) => e.id)).toEqual([created!.id, paid!.id]);
    });

    it('keeps given ids and numbers versions contiguously across appends', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const id = uuidv7();
      await store.appendToStream(streamId, [orderCreated('o1', { id })]);
      await store.appendToStream(streamId, many(3));
      const events = await readStreamAll(store, streamId);
      expect(events[0]!.id).toBe(id);
      expect(events.map((e) => e.streamVersion)).toEqual([1n, 2n, 3n, 4n]);
    });

    it('records a given id in lowercase, and knows it again in any case', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const id = uuidv7();
      await store.appendToStream(streamId, [orderCreated('o1', { id: id.toUpperCase() })]);
      expect((await readStreamAll(store, streamId))[0]!.id).toBe(id);
      const again = await store.appendToStream(streamId, [orderCreated('o1', { id })]);
      expect(again.idempotent).toBe(true);
    });

    describe('expected version', () => {
      const cases: { name: string; setup: number; expected: ExpectedVersion; ok: boolean }[] = [
        { name: "'any' on a new stream", setup: 0, expected: 'any', ok: true },
        { name: "'any' on an existing stream", setup: 2, expected: 'any', ok: true },
        { name: "'no_stream' on a new stream", setup: 0, expected: 'no_stream', ok: true },
        { name: "'no_stream' on an existing stream", setup: 2, expected: 'no_stream', ok: false },
        { name: "'stream_exists' on a new stream", setup: 0, expected: 'stream_exists', ok: false },
        { name: "'stream_exists' on an existing stream", setup: 2, expected: 'stream_exists', ok: true },
        { name: 'the right version (bigint)', setup: 2, expected: 2n, ok: true },
        { name: 'the right version (number)', setup: 2, expected: 2, ok: true },
        { name: '0 on a new stream', setup: 0, expected: 0n, ok: true },
        { name: 'a version behind', setup: 2, expected: 1n, ok: false },
        { name: 'a version ahead', setup: 2, expected: 3n, ok: false },
        { name: 'a version on a new stream', setup: 0, expected: 1n, ok: false },
      ];
      for (const c of cases) {
        it(`${c.ok ? 'accepts' : 'rejects'} ${c.name}`, async () => {
          const store = await ctx.store();
          const streamId = uniqueStream();
          if (c.setup > 0) await store.appendToStream(streamId, many(c.setup));
          const attempt = store.appendToStream(streamId, many(1), { expectedVersion: c.expected });
          if (c.ok) {
            expect((await attempt).nextExpectedVersion).toBe(BigInt(c.setup + 1));
          } else {
            const error = await attempt.then(
              () => null,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(WrongExpectedVersionError);
            const wrong = error as WrongExpectedVersionError;
            expect(wrong.code).toBe('WRONG_EXPECTED_VERSION');
            expect(wrong.streamId).toBe(streamId);
            expect(wrong.actualVersion).toBe(c.setup === 0 ? null : BigInt(c.setup));
            expect(wrong.expectedVersion).toBe(typeof c.expected === 'number' ? BigInt(c.expected) : c.expected);
            expect((await readStreamAll(store, streamId)).length).toBe(c.setup);
          }
        });
      }

      it('says what was expected and what was found', async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        await store.appendToStream(streamId, many(6));
        await expect(store.appendToStream(streamId, many(1), { expectedVersion: 4n })).rejects.toThrow(
          `Wrong expected version for ${streamId}: expected 4, actual 6`,
        );
      });
    });

    describe('idempotent re-append', () => {
      it('succeeds again for the same ids at the same expected version without duplicates', async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        const events = [orderCreated('o1', { id: uuidv7() }), orderPaid('o1')].map((e) => ({ ...e, id: e.id ?? uuidv7() }));
        const first = await store.appendToStream(streamId, events, { expectedVersion: 'no_stream' });
        const again = await store.appendToStream(streamId, events, { expectedVersion: 'no_stream' });
        expect(again.idempotent).toBe(true);
        expect(again.nextExpectedVersion).toBe(first.nextExpectedVersion);
        expect(again.position).toBe(first.position);
        expect(await readStreamAll(store, streamId)).toHaveLength(2);
      });

      it('succeeds again with a numeric expectation after later appends', async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        await store.appendToStream(streamId, many(2));
        const batch = many(2).map((e) => ({ ...e, id: uuidv7() }));
        const first = await store.appendToStream(streamId, batch, { expectedVersion: 2n });
        await store.appendToStream(streamId, many(1));
        const again = await store.appendToStream(streamId, batch, { expectedVersion: 2n });
        expect(again).toMatchObject({ idempotent: true, nextExpectedVersion: 4n, position: first.position });
        expect(await readStreamAll(store, streamId)).toHaveLength(5);
      });

      it("succeeds again with 'any'", async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        const batch = many(3).map((e) => ({ ...e, id: uuidv7() }));
        await store.appendToStream(streamId, batch);
        const again = await store.appendToStream(streamId, batch);
        expect(again.idempotent).toBe(true);
        expect(await readStreamAll(store, streamId)).toHaveLength(3);
      });

      it('rejects the same ids under an expectation that did not hold the first time', async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        const batch = many(1).map((e) => ({ ...e, id: uuidv7() }));
        await store.appendToStream(streamId, many(1));
        await store.appendToStream(streamId, batch, { expectedVersion: 1n });
        await expect(store.appendToStream(streamId, batch, { expectedVersion: 0n })).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        expect(await readStreamAll(store, streamId)).toHaveLength(2);
      });

      it("rejects a retry under 'no_stream' of ids that were not the stream's first events", async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        await store.appendToStream(streamId, many(2));
        const batch = many(1).map((e) => ({ ...e, id: uuidv7() }));
        await store.appendToStream(streamId, batch, { expectedVersion: 'any' });
        await expect(store.appendToStream(streamId, batch, { expectedVersion: 'no_stream' })).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        expect(await readStreamAll(store, streamId)).toHaveLength(3);
      });

      it('rejects an id already used in another stream', async () => {
        const store = await ctx.store();
        const a = uniqueStream();
        const b = uniqueStream();
        const id = uuidv7();
        await store.appendToStream(a, [orderCreated('o1', { id })]);
        const error = await store.appendToStream(b, [orderCreated('o2', { id })]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DuplicateEventIdError);
        expect((error as DuplicateEventIdError).eventId).toBe(id);
        expect(await readStreamAll(store, b)).toHaveLength(0);
      });

      it('rejects a batch that only partly repeats an earlier one, writing nothing', async () => {
        const store = await ctx.store();
        const streamId = uniqueStream();
        const batch = many(2).map((e) => ({ ...e, id: uuidv7() }));
        await store.appendToStream(streamId, batch);
        const mixed = [batch[0]!, { ...many(1)[0]!, id: uuidv7() }];
        await expect(store.appendToStream(streamId, mixed)).rejects.toBeInstanceOf(DuplicateEventIdError);
        const laterOnly = [{ ...many(1)[0]!, id: uuidv7() }, batch[1]!];
        await expect(store.appendToStream(streamId, laterOnly)).rejects.toBeInstanceOf(DuplicateEventIdError);
        expect(await readStreamAll(store, streamId)).toHaveLength(2);
      });
    });

    it('is atomic: a batch with one bad event writes none of it', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await expect(
        store.appendToStream(streamId, [orderCreated('o1'), { type: 'Bad', data: { n: 1n } }]),
      ).rejects.toMatchObject({ code: 'INVALID_EVENT', field: 'events[1].data.n' });
      expect(await readStreamAll(store, streamId)).toHaveLength(0);
      expect((await store.streamInfo(streamId)).version).toBe(0n);
    });

    it('gives every event a position above every earlier one', async () => {
      const store = await ctx.store();
      const a = uniqueStream();
      const b = uniqueStream();
      const results: AppendResult[] = [];
      for (let i = 0; i < 5; i++) {
        results.push(await store.appendToStream(i % 2 ? a : b, many(2)));
      }
      for (let i = 1; i < results.length; i++) {
        expect(results[i]!.events[0]!.position).toBeGreaterThan(results[i - 1]!.position);
      }
      await eventually(async () => expect(await store.headPosition()).toBeGreaterThanOrEqual(results.at(-1)!.position));
    });
  });
}
