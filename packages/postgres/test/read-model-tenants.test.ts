/**
 * Read models of several tenants in one schema: documents, checkpoints, leases, failures and dead
 * letters belong to one tenant, kept apart by forced row-level security as the event tables are.
 * Two tenants' runners run side by side, each with its own lease and checkpoint; neither sees the
 * other's documents; `waitForPosition` of a tenant resolves only once that tenant's document is
 * written. A schema made before tenants keeps its rows, as the default tenant's.
 */
import { defineProjection, ProjectionRunner } from '@eventloom/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropPostgresEventStore,
  openPostgresEventStore,
  openPostgresReadModels,
  READ_MODEL_MIGRATIONS,
  type PostgresEventStore,
  type PostgresProjectionHandle,
} from '../src/index.js';
import { connectionString, postgresUrl, uniqueSchema } from './support.js';

interface OrderEvent {
  readonly type: 'OrderPlaced';
  readonly data: { readonly orderId: string; readonly total: number };
}

const orders = defineProjection<OrderEvent, PostgresProjectionHandle>({
  name: 'orders',
  version: 1,
  handlers: {
    OrderPlaced: async (event, read) => {
      await read.collection<{ total: number }>('orders').upsert(event.data.orderId, { total: event.data.total });
    },
  },
});

function ownerPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 4 });
  pool.on('error', () => undefined);
  return pool;
}

describe.skipIf(!postgresUrl)('read models of two tenants in one schema', () => {
  const schema = uniqueSchema('elrmt');
  const pool = ownerPool();
  const stores: PostgresEventStore[] = [];
  beforeAll(async () => {
    for (const tenantId of ['a', 'b']) stores.push(await openPostgresEventStore({ connectionString, schema, tenantId, poolSize: 2 }));
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await pool.end();
    await dropPostgresEventStore({ connectionString, schema });
  });

  it("each tenant's runner keeps its own documents, checkpoint and lease; neither sees the other's", async () => {
    const [storeA, storeB] = stores as [PostgresEventStore, PostgresEventStore];
    const readA = await openPostgresReadModels({ pool, schema, tenantId: 'a' });
    const readB = await openPostgresReadModels({ pool, schema, tenantId: 'b' });
    const runnerA = new ProjectionRunner({ eventStore: storeA, readModels: readA, projections: [orders], owner: 'runner-a', pollIntervalMs: 20 });
    const runnerB = new ProjectionRunner({ eventStore: storeB, readModels: readB, projections: [orders], owner: 'runner-b', pollIntervalMs: 20 });
    try {
      runnerA.start();
      const a = await storeA.appendToStream('order-1', [{ type: 'OrderPlaced', data: { orderId: 'o-a', total: 1 } }]);
      await runnerA.waitForPosition('orders', a.position, 15_000);
      // B's runner starts while A's holds its lease: B must not stand by behind it.
      runnerB.start();
      const b = await storeB.appendToStream('order-1', [{ type: 'OrderPlaced', data: { orderId: 'o-b', total: 2 } }]);
      await runnerB.waitForPosition('orders', b.position, 15_000);

      expect(await readA.read('orders', (view) => view.collection('orders').find())).toEqual([{ total: 1 }]);
      expect(await readB.read('orders', (view) => view.collection('orders').find())).toEqual([{ total: 2 }]);
      expect(await readA.read('orders', (view) => view.collection('orders').get('o-b'))).toBeNull();
      const [stateA] = await readA.listProjections();
      const [stateB] = await readB.listProjections();
      expect(stateA!.checkpoint).toBe(a.position);
      expect(stateB!.checkpoint).toBe(b.position);
      // Leases are per tenant too: A's lease key held by A does not stop B's owner, and vice versa.
      expect(await readB.tryAcquireLease('projection:orders@1', 'someone-else', 1_000)).toBe(false);
      expect(await readA.tryAcquireLease('other-key', 'x', 60_000)).toBe(true);
      expect(await readB.tryAcquireLease('other-key', 'y', 60_000)).toBe(true);
    } finally {
      await runnerA.stop();
      await runnerB.stop();
      await readA.close();
      await readB.close();
    }
  }, 60_000);

  it("waitForPosition of tenant B resolves only once B's document is written", async () => {
    const [storeA, storeB] = stores as [PostgresEventStore, PostgresEventStore];
    const readA = await openPostgresReadModels({ pool, schema, tenantId: 'a' });
    const readB = await openPostgresReadModels({ pool, schema, tenantId: 'b' });
    const waiting = defineProjection<OrderEvent, PostgresProjectionHandle>({ ...orders, name: 'waiting' } as never);
    const runnerA = new ProjectionRunner({ eventStore: storeA, readModels: readA, projections: [waiting], owner: 'a', pollIntervalMs: 20 });
    const runnerB = new ProjectionRunner({ eventStore: storeB, readModels: readB, projections: [waiting], owner: 'b', pollIntervalMs: 20 });
    try {
      runnerA.start();
      const a = await storeA.appendToStream('order-2', [{ type: 'OrderPlaced', data: { orderId: 'w-a', total: 3 } }]);
      await runnerA.waitForPosition('waiting', a.position, 15_000);
      const b = await storeB.appendToStream('order-2', [{ type: 'OrderPlaced', data: { orderId: 'w-b', total: 4 } }]);
      // B's runner is not started: A's checkpoint must not make B's wait resolve.
      await expect(runnerB.waitForPosition('waiting', b.position, 500)).rejects.toMatchObject({ code: 'PROJECTION_WAIT_TIMEOUT' });
      runnerB.start();
      await runnerB.waitForPosition('waiting', b.position, 15_000);
      expect(await readB.read('waiting', (view) => view.collection('orders').get('w-b'))).toEqual({ total: 4 });
    } finally {
      await runnerA.stop();
      await runnerB.stop();
    }
  }, 60_000);

  it('failures and dead letters belong to their tenant', async () => {
    const readA = await openPostgresReadModels({ pool, schema, tenantId: 'a' });
    const readB = await openPostgresReadModels({ pool, schema, tenantId: 'b' });
    const projection = { name: 'dl', version: 1, namespace: 'dl@1' };
    await readA.transaction(async (tx) => {
      await tx.createState(projection);
      await tx.setFailure('dl@1', { position: 1n, eventId: 'e', eventType: 'T', streamId: 's', error: 'boom', stack: null, attempts: 1, failedAt: new Date().toISOString() });
      await tx.addDeadLetter({
        projection,
        position: 1n,
        eventId: 'e',
        eventType: 'T',
        streamId: 's',
        error: 'boom',
        attempts: 3,
        recordedAt: new Date().toISOString(),
      });
    });
    expect((await readA.deadLetters()).length).toBe(1);
    expect(await readB.deadLetters()).toEqual([]);
    expect(await readB.deadLetters('dl@1')).toEqual([]);
    expect((await readB.listProjections()).find((p) => p.projection.namespace === 'dl@1')).toBeUndefined();
    // B may create the same projection: its own row, not A's.
    await readB.transaction((tx) => tx.createState(projection));
    expect((await readA.listProjections()).find((p) => p.projection.namespace === 'dl@1')!.failure).not.toBeNull();
  });

  it("refuses plain SQL through a handler's client that reads or writes another tenant's read-model rows", async () => {
    const readB = await openPostgresReadModels({ pool, schema, tenantId: 'b' });
    const seen = await readB.transaction(async (tx) => {
      const handle = tx.handle({ name: 'orders', version: 1, namespace: 'orders@1' });
      const { rows } = await handle.client.query(`SELECT tenant_id, id FROM "${schema}".rm_documents`);
      return rows as { tenant_id: string }[];
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((r) => r.tenant_id))).toEqual(new Set(['b']));
    const error = await readB
      .transaction(async (tx) => {
        const handle = tx.handle({ name: 'orders', version: 1, namespace: 'orders@1' });
        await handle.client.query(`INSERT INTO "${schema}".rm_documents (tenant_id, namespace, collection, id, data) VALUES ('a', 'orders@1', 'orders', 'forged', '{}')`);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const readA = await openPostgresReadModels({ pool, schema, tenantId: 'a' });
    expect(await readA.read('orders', (view) => view.collection('orders').get('forged'))).toBeNull();
  });
});

describe.skipIf(!postgresUrl)('tenant ids shaped like SQL', () => {
  it('travel as data: quotes and backslashes name their own tenant', async () => {
    const schema = uniqueSchema('elrmq');
    const pool = ownerPool();
    try {
      const odd = await openPostgresReadModels({ pool, schema, tenantId: "o'b\\c; RESET ROLE; --" });
      const plain = await openPostgresReadModels({ pool, schema, tenantId: 'o' });
      const projection = { name: 'q', version: 1, namespace: 'q@1' };
      await odd.transaction(async (tx) => {
        await tx.createState(projection);
        await tx.handle(projection).collection('c').upsert('x', { n: 1 });
      });
      expect(await odd.read({ name: 'q', version: 1 }, (view) => view.collection('c').get('x'))).toEqual({ n: 1 });
      expect(await plain.read({ name: 'q', version: 1 }, (view) => view.collection('c').get('x'))).toBeNull();
      const { rows } = await pool.query(`SELECT DISTINCT tenant_id FROM "${schema}".rm_documents`);
      expect(rows).toEqual([{ tenant_id: "o'b\\c; RESET ROLE; --" }]);
    } finally {
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});

describe.skipIf(!postgresUrl)('read models made before tenants', () => {
  it("keep their documents and checkpoints, as the default tenant's", async () => {
    const schema = uniqueSchema('elrmm');
    const pool = ownerPool();
    try {
      const client = await pool.connect();
      try {
        const s = `"${schema}"`;
        await client.query(`CREATE SCHEMA ${s}`);
        await client.query(`CREATE TABLE ${s}.read_model_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`);
        await client.query(READ_MODEL_MIGRATIONS[0]!.sql(s));
        await client.query(`INSERT INTO ${s}.read_model_migrations VALUES (1, 'v1', now()::text)`);
        await client.query(`INSERT INTO ${s}.rm_documents VALUES ('orders@1', 'orders', 'old', '{"total": 9}')`);
        await client.query(`INSERT INTO ${s}.rm_projections VALUES ('orders@1', 'orders', 1, 42, NULL, now()::text)`);
        await client.query(`INSERT INTO ${s}.rm_active VALUES ('orders', 1, now()::text)`);
        await client.query(`CREATE TABLE ${s}."orders@1/paid" (order_id text PRIMARY KEY)`);
      } finally {
        client.release();
      }
      const readDefault = await openPostgresReadModels({ pool, schema });
      expect(await readDefault.read('orders', (view) => view.collection('orders').get('old'))).toEqual({ total: 9 });
      expect((await readDefault.listProjections())[0]).toMatchObject({ checkpoint: 42n, active: true });
      const readOther = await openPostgresReadModels({ pool, schema, tenantId: 'other' });
      expect(await readOther.read({ name: 'orders', version: 1 }, (view) => view.collection('orders').get('old'))).toBeNull();
      expect(await readOther.listProjections()).toEqual([]);
      // A rebuild drops the projection's own table made before, now run as the schema's role.
      await readDefault.transaction((tx) => tx.dropNamespace('orders@1'));
      expect(await readDefault.read({ name: 'orders', version: 1 }, (view) => view.collection('orders').get('old'))).toBeNull();
      const { rows } = await pool.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'orders@1/paid'`, [schema]);
      expect(rows).toEqual([]);
    } finally {
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});
