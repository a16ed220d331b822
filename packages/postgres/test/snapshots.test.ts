/** Snapshots in the store's schema: newest wins, per tenant, JSON PostgreSQL can hold. */
import { InvalidArgumentError } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { connectionString, openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('snapshots', () => {
  let test: TestStore;
  let other: PostgresEventStore;
  beforeAll(async () => {
    test = await openTestStore();
    other = await openPostgresEventStore({ connectionString, schema: test.schema, tenantId: 'other', poolSize: 1 });
  });
  afterAll(async () => {
    await other?.close();
    await test?.cleanup();
  });

  it('keeps the newest snapshot per stream and tenant, and deletes it', async () => {
    const { snapshots } = test.store;
    const time = '2026-01-01T00:00:00.000Z';
    expect(await snapshots.load('cart-1')).toBeNull();
    await snapshots.save({ streamId: 'cart-1', version: 5n, schemaVersion: 2, state: { items: ['a'], total: 1.5 }, time });
    await snapshots.save({ streamId: 'cart-1', version: 3n, schemaVersion: 2, state: { stale: true }, time });
    expect(await snapshots.load('cart-1')).toEqual({ streamId: 'cart-1', version: 5n, schemaVersion: 2, state: { items: ['a'], total: 1.5 }, time });
    await snapshots.save({ streamId: 'cart-1', version: 8n, schemaVersion: 3, state: { items: [] }, time });
    expect(await snapshots.load('cart-1')).toMatchObject({ version: 8n, schemaVersion: 3, state: { items: [] } });
    expect(await other.snapshots.load('cart-1')).toBeNull();
    await snapshots.delete('cart-1');
    expect(await snapshots.load('cart-1')).toBeNull();
  });

  it('rejects state that is not JSON PostgreSQL can store', async () => {
    const { snapshots } = test.store;
    const base = { streamId: 'cart-2', version: 1n, schemaVersion: 1, time: 'now' };
    await expect(snapshots.save({ ...base, state: { at: new Date() } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(snapshots.save({ ...base, state: { note: 'a\u0000' } })).rejects.toThrow(/snapshot.state.note/);
    expect(await snapshots.load('cart-2')).toBeNull();
  });
});
