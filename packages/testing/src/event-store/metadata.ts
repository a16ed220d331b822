/** Stream metadata (maxCount, maxAge, truncateBefore), soft delete and tombstone. */
import { StreamDeletedError, WrongExpectedVersionError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { many, readLogOf, readStreamAll, uniqueStream } from './fixtures.js';

export function metadataTests(ctx: SuiteContext): void {
  describe('stream metadata', () => {
    it('stores metadata and shows it in stream info', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(2));
      await store.setStreamMetadata(streamId, { maxCount: 5, custom: { owner: 'billing' } });
      const info = await store.streamInfo(streamId);
      expect(info).toMatchObject({ streamId, version: 2n, exists: true, softDeleted: false, tombstoned: false });
      expect(info.metadata).toEqual({ maxCount: 5, custom: { owner: 'billing' } });
      expect(await store.streamInfo(uniqueStream())).toMatchObject({ version: 0n, exists: false });
    });

    it('a stream with metadata but no events does not exist yet', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.setStreamMetadata(streamId, { maxCount: 2 });
      expect(await store.streamInfo(streamId)).toMatchObject({ exists: false, version: 0n, metadata: { maxCount: 2 } });
      await expect(store.appendToStream(streamId, many(1), { expectedVersion: 'stream_exists' })).rejects.toBeInstanceOf(
        WrongExpectedVersionError,
      );
      await store.appendToStream(streamId, many(3), { expectedVersion: 'no_stream' });
      expect((await readStreamAll(store, streamId)).map((e) => e.streamVersion)).toEqual([2n, 3n]);
    });

    it('maxCount keeps only the newest events visible', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(10));
      await store.setStreamMetadata(streamId, { maxCount: 3 });
      expect((await readStreamAll(store, streamId)).map((e) => e.streamVersion)).toEqual([8n, 9n, 10n]);
      await store.appendToStream(streamId, many(1), { expectedVersion: 10n });
      expect((await readStreamAll(store, streamId, { direction: 'backwards' })).map((e) => e.streamVersion)).toEqual([
        11n,
        10n,
        9n,
      ]);
    });

    it('truncateBefore hides earlier events', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(6));
      await store.setStreamMetadata(streamId, { truncateBefore: 5n });
      expect((await readStreamAll(store, streamId)).map((e) => e.streamVersion)).toEqual([5n, 6n]);
      expect((await store.streamInfo(streamId)).version).toBe(6n);
    });

    it('maxAgeSeconds hides events older than the age', async () => {
      let now = new Date('2026-01-01T00:00:00.000Z');
      const store = await ctx.store({ clock: () => now });
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(2));
      now = new Date('2026-01-01T01:00:00.000Z');
      await store.appendToStream(streamId, many(1));
      await store.setStreamMetadata(streamId, { maxAgeSeconds: 600 });
      now = new Date('2026-01-01T01:05:00.000Z');
      expect((await readStreamAll(store, streamId)).map((e) => e.streamVersion)).toEqual([3n]);
      expect((await readStreamAll(store, streamId))[0]!.time).toBe('2026-01-01T01:00:00.000Z');
    });

    it('rejects nonsense metadata, changing nothing', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.setStreamMetadata(streamId, { maxCount: 4 });
      await expect(store.setStreamMetadata(streamId, { maxCount: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.setStreamMetadata(streamId, { maxAgeSeconds: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((await store.streamInfo(streamId)).metadata).toEqual({ maxCount: 4 });
    });
  });

  describe('deletes', () => {
    it('soft delete hides the events; the stream can be written again and keeps its numbering', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(3));
      await store.deleteStream(streamId, { expectedVersion: 3n });
      expect(await readStreamAll(store, streamId)).toEqual([]);
      expect(await store.streamInfo(streamId)).toMatchObject({ exists: false, softDeleted: true, version: 3n });
      await store.appendToStream(streamId, many(2), { expectedVersion: 'no_stream' });
      expect((await readStreamAll(store, streamId)).map((e) => e.streamVersion)).toEqual([4n, 5n]);
      expect(await store.streamInfo(streamId)).toMatchObject({ exists: true, softDeleted: false, version: 5n });
    });

    it('checks the expected version on delete', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(3));
      await expect(store.deleteStream(streamId, { expectedVersion: 2n })).rejects.toBeInstanceOf(WrongExpectedVersionError);
      expect(await readStreamAll(store, streamId)).toHaveLength(3);
    });

    it('a tombstoned stream can never be read, written or deleted again, and leaves the log', async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      await store.appendToStream(streamId, many(2));
      await store.deleteStream(streamId, { hard: true });
      await expect(store.appendToStream(streamId, many(1))).rejects.toBeInstanceOf(StreamDeletedError);
      await expect(store.appendToStream(streamId, many(1), { expectedVersion: 'no_stream' })).rejects.toBeInstanceOf(
        StreamDeletedError,
      );
      await expect(readStreamAll(store, streamId)).rejects.toBeInstanceOf(StreamDeletedError);
      await expect(store.deleteStream(streamId)).rejects.toBeInstanceOf(StreamDeletedError);
      await expect(store.setStreamMetadata(streamId, { maxCount: 1 })).rejects.toBeInstanceOf(StreamDeletedError);
      expect(await store.streamInfo(streamId)).toMatchObject({ tombstoned: true, exists: false });
      expect(await readLogOf(store, streamId)).toEqual([]);
    });
  });
}
