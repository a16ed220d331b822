/** Snapshots in the store's file: the latest per stream survives a reopen, an older one never replaces it. */
import { InvalidArgumentError, StoreClosedError, type Snapshot } from '@eventloom/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

const snapshot = (version: bigint, total: number): Snapshot<{ total: number }> => ({
  streamId: 'order-1',
  version,
  schemaVersion: 1,
  state: { total },
  time: '2026-01-01T00:00:00.000Z',
});

describe('snapshots', () => {
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

  it('keeps the latest snapshot of a stream across a reopen', async () => {
    expect(await store.snapshots.load('order-1')).toBeNull();
    await store.snapshots.save(snapshot(10n, 100));
    await store.snapshots.save(snapshot(20n, 250));
    await store.close();
    store = openSqliteEventStore({ filename: file.filename });
    expect(await store.snapshots.load('order-1')).toEqual(snapshot(20n, 250));
  });

  it('does not let an older snapshot replace a newer one', async () => {
    await store.snapshots.save(snapshot(20n, 250));
    await store.snapshots.save(snapshot(10n, 100));
    expect(await store.snapshots.load<{ total: number }>('order-1')).toMatchObject({ version: 20n, state: { total: 250 } });
  });

  it('deletes a snapshot', async () => {
    await store.snapshots.save(snapshot(20n, 250));
    await store.snapshots.delete('order-1');
    expect(await store.snapshots.load('order-1')).toBeNull();
  });

  it('rejects a malformed snapshot, naming the field', async () => {
    await expect(store.snapshots.save({ ...snapshot(1n, 1), version: 1 as unknown as bigint })).rejects.toMatchObject({
      argument: 'snapshot.version',
    });
    await expect(store.snapshots.save({ ...snapshot(1n, 1), schemaVersion: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.snapshots.save({ ...snapshot(1n, 1), time: 'yesterday' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.snapshots.save({ ...snapshot(1n, 1), state: { n: 1n } as unknown as { total: number } })).rejects.toThrow(
      /Invalid snapshot\.state\.n: is a BigInt/,
    );
    expect(await store.snapshots.load('order-1')).toBeNull();
  });

  it('refuses to work once the store is closed', async () => {
    await store.close();
    await expect(store.snapshots.load('order-1')).rejects.toBeInstanceOf(StoreClosedError);
  });
});
