/** Snapshots in the store's file: the latest per stream survives a reopen, an older one never replaces it. */
import { InvalidArgumentError, StoreClosedError, type Snapshot } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../src/index.js';
import { useTempStore } from './temp-file.js';

const snapshot = (version: bigint, total: number): Snapshot<{ total: number }> => ({
  streamId: 'order-1',
  version,
  schemaVersion: 1,
  state: { total },
  time: '2026-01-01T00:00:00.000Z',
});

describe('snapshots', () => {
  const t = useTempStore();

  it('keeps the latest snapshot of a stream across a reopen', async () => {
    expect(await t.store.snapshots.load('order-1')).toBeNull();
    await t.store.snapshots.save(snapshot(10n, 100));
    await t.store.snapshots.save(snapshot(20n, 250));
    await t.store.close();
    t.store = openSqliteEventStore({ filename: t.file.filename });
    expect(await t.store.snapshots.load('order-1')).toEqual(snapshot(20n, 250));
  });

  it('does not let an older snapshot replace a newer one', async () => {
    await t.store.snapshots.save(snapshot(20n, 250));
    await t.store.snapshots.save(snapshot(10n, 100));
    expect(await t.store.snapshots.load<{ total: number }>('order-1')).toMatchObject({ version: 20n, state: { total: 250 } });
  });

  it('deletes a snapshot', async () => {
    await t.store.snapshots.save(snapshot(20n, 250));
    await t.store.snapshots.delete('order-1');
    expect(await t.store.snapshots.load('order-1')).toBeNull();
  });

  it('rejects a malformed snapshot, naming the field', async () => {
    await expect(t.store.snapshots.save({ ...snapshot(1n, 1), version: 1 as unknown as bigint })).rejects.toMatchObject({
      argument: 'snapshot.version',
    });
    await expect(t.store.snapshots.save({ ...snapshot(1n, 1), schemaVersion: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.store.snapshots.save({ ...snapshot(1n, 1), time: 'yesterday' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.store.snapshots.save({ ...snapshot(1n, 1), state: { n: 1n } as unknown as { total: number } })).rejects.toThrow(
      /Invalid snapshot\.state\.n: is a BigInt/,
    );
    expect(await t.store.snapshots.load('order-1')).toBeNull();
  });

  it('refuses to work once the t.store is closed', async () => {
    await t.store.close();
    await expect(t.store.snapshots.load('order-1')).rejects.toBeInstanceOf(StoreClosedError);
  });
});
