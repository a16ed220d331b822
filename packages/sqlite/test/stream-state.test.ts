/**
 * Stream states beyond the conformance suite. A stream with metadata but no events has "no
 * events yet" (ExpectedVersion's doc) and is not visible (StreamState's doc): 'no_stream' holds
 * for it and `exists` is false.
 */
import { collect, WrongExpectedVersionError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { useTempStore } from './temp-file.js';

describe('stream states', () => {
  const t = useTempStore();

  it('a stream with metadata and no events does not exist yet', async () => {
    await t.store.setStreamMetadata('order-1', { maxCount: 2 });
    expect(await t.store.streamInfo('order-1')).toEqual({
      streamId: 'order-1',
      version: 0n,
      exists: false,
      softDeleted: false,
      tombstoned: false,
      metadata: { maxCount: 2 },
    });
    await expect(t.store.appendToStream('order-1', [{ type: 'X', data: {} }], { expectedVersion: 'stream_exists' })).rejects.toBeInstanceOf(
      WrongExpectedVersionError,
    );
    await t.store.appendToStream('order-1', [{ type: 'X', data: {} }, { type: 'X', data: {} }, { type: 'X', data: {} }], {
      expectedVersion: 'no_stream',
    });
    expect((await collect(t.store.readStream('order-1'))).map((e) => e.streamVersion)).toEqual([2n, 3n]);
  });

  it('soft delete of a stream that never existed leaves a deleted, empty stream that can start again', async () => {
    await t.store.deleteStream('order-2');
    expect(await t.store.streamInfo('order-2')).toMatchObject({ version: 0n, exists: false, softDeleted: true, metadata: { truncateBefore: 1n } });
    await t.store.appendToStream('order-2', [{ type: 'X', data: {} }], { expectedVersion: 'no_stream' });
    expect(await t.store.streamInfo('order-2')).toMatchObject({ version: 1n, exists: true, softDeleted: false });
    expect(await collect(t.store.readStream('order-2'))).toHaveLength(1);
  });

  it('metadata set after a soft delete replaces truncateBefore, showing the old events again', async () => {
    await t.store.appendToStream('order-3', [{ type: 'X', data: {} }, { type: 'X', data: {} }]);
    await t.store.deleteStream('order-3');
    expect(await collect(t.store.readStream('order-3'))).toEqual([]);
    await t.store.setStreamMetadata('order-3', { custom: { note: 'restored' } });
    expect(await collect(t.store.readStream('order-3'))).toHaveLength(2);
  });
});
