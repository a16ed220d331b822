/**
 * Stream states beyond the conformance suite. A stream with metadata but no events has "no
 * events yet" (ExpectedVersion's doc) and is not visible (StreamState's doc): 'no_stream' holds
 * for it and `exists` is false.
 */
import { collect, WrongExpectedVersionError } from '@eventloom/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

describe('stream states', () => {
  let file: TempFile;
  let store: SqliteEventStore;
  beforeEach(() => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename });
  });
  afterEach(async () => {
    await store.close();
    file.remove();
  });

  it('a stream with metadata and no events does not exist yet', async () => {
    await store.setStreamMetadata('order-1', { maxCount: 2 });
    expect(await store.streamInfo('order-1')).toEqual({
      streamId: 'order-1',
      version: 0n,
      exists: false,
      softDeleted: false,
      tombstoned: false,
      metadata: { maxCount: 2 },
    });
    await expect(store.appendToStream('order-1', [{ type: 'X', data: {} }], { expectedVersion: 'stream_exists' })).rejects.toBeInstanceOf(
      WrongExpectedVersionError,
    );
    await store.appendToStream('order-1', [{ type: 'X', data: {} }, { type: 'X', data: {} }, { type: 'X', data: {} }], {
      expectedVersion: 'no_stream',
    });
    expect((await collect(store.readStream('order-1'))).map((e) => e.streamVersion)).toEqual([2n, 3n]);
  });

  it('soft delete of a stream that never existed leaves a deleted, empty stream that can start again', async () => {
    await store.deleteStream('order-2');
    expect(await store.streamInfo('order-2')).toMatchObject({ version: 0n, exists: false, softDeleted: true, metadata: { truncateBefore: 1n } });
    await store.appendToStream('order-2', [{ type: 'X', data: {} }], { expectedVersion: 'no_stream' });
    expect(await store.streamInfo('order-2')).toMatchObject({ version: 1n, exists: true, softDeleted: false });
    expect(await collect(store.readStream('order-2'))).toHaveLength(1);
  });

  it('metadata set after a soft delete replaces truncateBefore, showing the old events again', async () => {
    await store.appendToStream('order-3', [{ type: 'X', data: {} }, { type: 'X', data: {} }]);
    await store.deleteStream('order-3');
    expect(await collect(store.readStream('order-3'))).toEqual([]);
    await store.setStreamMetadata('order-3', { custom: { note: 'restored' } });
    expect(await collect(store.readStream('order-3'))).toHaveLength(2);
  });
});
