/**
 * The store's own transactions run at READ COMMITTED, what they were designed for, whatever
 * default isolation the connection string's options set; and numbers PostgreSQL cannot hold in
 * its columns are refused with a typed error before anything is sent, never a raw 22003.
 */
import { collect, EventloomError, ProjectionRunner, defineProjection } from '@eventloom/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropPostgresEventStore,
  openPostgresEventStore,
  openPostgresReadModels,
  type PostgresEventStore,
  type PostgresProjectionHandle,
} from '../src/index.js';
import { connectionString, openTestStore, postgresUrl, uniqueSchema, type TestStore } from './support.js';

function withOptions(options: string): string {
  const url = new URL(connectionString);
  url.searchParams.set('options', options);
  return url.toString();
}

for (const isolation of ['repeatable\\ read', 'serializable']) {
  describe.skipIf(!postgresUrl)(`default_transaction_isolation=${isolation} in the connection string`, () => {
    const schema = uniqueSchema('eliso');
    const url = withOptions(`-c default_transaction_isolation=${isolation}`);
    let store: PostgresEventStore;
    beforeAll(async () => {
      store = await openPostgresEventStore({ connectionString: url, schema, poolSize: 16 });
    });
    afterAll(async () => {
      await store?.close();
      await dropPostgresEventStore({ connectionString, schema });
    });

    it("the store's sessions run at READ COMMITTED, with the URL's other options kept", async () => {
      const { rows } = await store.pool.query<{ isolation: string; zone: string }>(
        `SELECT current_setting('transaction_isolation') AS isolation, current_setting('TimeZone') AS zone`,
      );
      expect(rows[0]).toEqual({ isolation: 'read committed', zone: 'UTC' });
    });

    it('so do the sessions of a pool the user brings', async () => {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on('error', () => undefined);
      const own = await openPostgresEventStore({ pool, schema });
      try {
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) => own.appendToStream('hot-own', [{ type: 'T', data: { i } }]).catch((e: unknown) => e)),
        );
        expect(results.filter((r) => r instanceof Error)).toEqual([]);
        const { rows } = await own.pool.query<{ isolation: string }>(`SELECT current_setting('transaction_isolation') AS isolation`);
        expect(rows[0]!.isolation).toBe('read committed');
      } finally {
        await own.close();
        await pool.end();
      }
    });

    it("16 concurrent appends with expectedVersion 'any' to one stream all succeed", async () => {
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          store.appendToStream('hot-1', [{ type: 'T', data: { i } }], { expectedVersion: 'any' }).catch((e: unknown) => e),
        ),
      );
      const failures = results.filter((r) => r instanceof Error);
      expect(failures).toEqual([]);
      const versions = (await collect(store.readStream('hot-1'))).map((e) => e.streamVersion);
      expect(versions).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i + 1)));
    }, 60_000);

    it('a projection runner on read models whose pool has the same default keeps up with 16 concurrent appends', async () => {
      const pool = new pg.Pool({ connectionString: url, max: 8 });
      pool.on('error', () => undefined);
      const readModels = await openPostgresReadModels({ pool, schema });
      const counter = defineProjection<{ type: 'T'; data: { i: number } }, PostgresProjectionHandle>({
        name: 'counter',
        version: 1,
        handlers: {
          T: async (_event, handle) => {
            const counts = handle.collection<{ n: number }>('counts');
            await counts.upsert('all', { n: ((await counts.get('all'))?.n ?? 0) + 1 });
          },
        },
      });
      const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [counter] });
      try {
        runner.start();
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            store.appendToStream('hot-2', [{ type: 'T', data: { i } }], { expectedVersion: 'any' }).catch((e: unknown) => e),
          ),
        );
        expect(results.filter((r) => r instanceof Error)).toEqual([]);
        await runner.waitForPosition('counter', await store.headPosition(), 30_000);
        const count = await readModels.read('counter', (view) => view.collection<{ n: number }>('counts').get('all'));
        expect(count?.n).toBe((await collect(store.readAll())).length);
      } finally {
        await runner.stop();
        await readModels.close();
        await pool.end();
      }
    }, 60_000);
  });
}

describe.skipIf(!postgresUrl)('numbers beyond what PostgreSQL holds', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore();
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  const huge: [string, (store: PostgresEventStore) => Promise<unknown>, string][] = [
    ['schemaVersion 2^31', (s) => s.appendToStream('n-1', [{ type: 'T', data: {}, schemaVersion: 2 ** 31 }]), 'INVALID_EVENT'],
    ['expectedVersion 2^63', (s) => s.appendToStream('n-1', [{ type: 'T', data: {} }], { expectedVersion: 2n ** 63n }), 'INVALID_ARGUMENT'],
    ['deleteStream expectedVersion 2^63', (s) => s.deleteStream('n-1', { expectedVersion: 2n ** 63n }), 'INVALID_ARGUMENT'],
    ['readAll fromPosition 2^63', (s) => collect(s.readAll({ fromPosition: 2n ** 63n })), 'INVALID_ARGUMENT'],
    ['checkpoints.store 2^63', (s) => s.checkpoints.store('c', 2n ** 63n), 'INVALID_ARGUMENT'],
    ['snapshot version 2^63', (s) => s.snapshots.save({ streamId: 'n-1', version: 2n ** 63n, schemaVersion: 1, state: {}, time: new Date().toISOString() }), 'INVALID_ARGUMENT'],
    ['snapshot schemaVersion 2^31', (s) => s.snapshots.save({ streamId: 'n-1', version: 1n, schemaVersion: 2 ** 31, state: {}, time: new Date().toISOString() }), 'INVALID_ARGUMENT'],
  ];
  for (const [name, call, code] of huge) {
    it(`${name}: typed ${code}, nothing written`, async () => {
      const { store } = test;
      const error = await call(store).then(
        () => new Error('accepted'),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EventloomError);
      expect((error as EventloomError).code).toBe(code);
      expect((await store.streamInfo('n-1')).version).toBe(0n);
      expect(await store.checkpoints.load('c')).toBeNull();
    });
  }

  it('a consumer group fromPosition 2^63 and a read-model checkpoint 2^63 are typed too', async () => {
    const { store, schema } = test;
    expect(() => store.subscribeGroup({ group: 'g', fromPosition: 2n ** 63n, handler: () => undefined })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    const pool = new pg.Pool({ connectionString, max: 2 });
    try {
      const readModels = await openPostgresReadModels({ pool, schema });
      const error = await readModels
        .transaction(async (tx) => {
          await tx.createState({ name: 'p', version: 1, namespace: 'p@1' });
          await tx.setCheckpoint('p@1', 2n ** 63n);
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await readModels.listProjections()).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
