/**
 * Tenants are kept apart by the database itself: row-level security, forced on the tables, with
 * the store's sessions running as an ordinary role. A store opened for one tenant cannot read or
 * write another's events — not through its API, and not with raw SQL through its pool.
 */
import { collect } from '@eventloom/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('tenant isolation', () => {
  let a: TestStore;
  let b: PostgresEventStore;
  beforeAll(async () => {
    a = await openTestStore({ tenantId: 'tenant-a' });
    b = await openPostgresEventStore({ connectionString, schema: a.schema, tenantId: "tenant-b'; --", poolSize: 2 });
    await b.appendToStream('account-1', [
      { type: 'Opened', data: { owner: 'bob' } },
      { type: 'Deposited', data: { amount: 100 } },
    ]);
    await b.checkpoints.store('projector', 42n);
  });
  afterAll(async () => {
    await b?.close();
    await a?.cleanup();
  });

  it("shows a tenant nothing of another tenant's streams, log, checkpoints or ids", async () => {
    const { store } = a;
    expect(await collect(store.readStream('account-1'))).toEqual([]);
    expect(await collect(store.readAll())).toEqual([]);
    expect(await collect(store.readCategory('account'))).toEqual([]);
    expect(await store.headPosition()).toBe(0n);
    expect(await store.streamInfo('account-1')).toMatchObject({ exists: false, version: 0n });
    expect(await store.checkpoints.load('projector')).toBeNull();
    // The same stream id is another stream for another tenant.
    const own = await store.appendToStream('account-1', [{ type: 'Opened', data: { owner: 'alice' } }], {
      expectedVersion: 'no_stream',
    });
    expect(own.nextExpectedVersion).toBe(1n);
    expect((await collect(store.readStream('account-1'))).map((e) => e.data)).toEqual([{ owner: 'alice' }]);
    expect((await collect(b.readStream('account-1'))).map((e) => e.data)).toEqual([{ owner: 'bob' }, { amount: 100 }]);
    // Event ids are per tenant too: reusing b's id neither fails nor reveals it.
    const [bEvent] = await collect(b.readStream('account-1'));
    await expect(store.appendToStream('account-2', [{ id: bEvent!.id, type: 'Copied', data: {} }])).resolves.toMatchObject({
      idempotent: false,
    });
  });

  it("refuses raw SQL through the store's pool that reads or writes another tenant's rows", async () => {
    const { store, schema } = a;
    const s = `"${schema}"`;
    const { rows: who } = await store.pool.query<{ user: string; superuser: boolean }>(
      `SELECT current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    expect(who[0]).toEqual({ user: `${schema}_app`, superuser: false });

    const { rows: visible } = await store.pool.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${s}.events`);
    expect(visible.map((r) => r.tenant_id)).toEqual(['tenant-a']);
    const { rowCount: read } = await store.pool.query(`SELECT * FROM ${s}.events WHERE tenant_id = $1`, ["tenant-b'; --"]);
    expect(read).toBe(0);
    const { rowCount: updated } = await store.pool.query(`UPDATE ${s}.events SET data = '{}' WHERE tenant_id = $1`, ["tenant-b'; --"]);
    expect(updated).toBe(0);
    await expect(
      store.pool.query(
        `INSERT INTO ${s}.events (tenant_id, position, id, stream_id, stream_version, type, schema_version, data, metadata,
                                  correlation_id, time, source)
         VALUES ($1, 1, gen_random_uuid(), 'account-1', 3, 'Forged', 1, '{}', '{}', 'x', now(), 'x')`,
        ["tenant-b'; --"],
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(store.pool.query(`DELETE FROM ${s}.events`)).rejects.toThrow(/permission denied/);
    await expect(store.pool.query(`ALTER TABLE ${s}.events DISABLE ROW LEVEL SECURITY`)).rejects.toThrow(/must be owner/);

    // Behind the store's back, b's events are all still there.
    const admin = await adminClient();
    try {
      const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.events WHERE tenant_id = $1`, ["tenant-b'; --"]);
      expect(Number(rows[0]!.n)).toBe(2);
    } finally {
      await admin.end();
    }
  });

  it('applies the same role and tenant to a pool the user brings', async () => {
    const pool = new pg.Pool({ connectionString, max: 2 });
    const store = await openPostgresEventStore({ pool, schema: a.schema, tenantId: 'tenant-c' });
    try {
      await store.appendToStream('account-9', [{ type: 'Opened', data: {} }]);
      expect(await collect(store.readStream('account-1'))).toEqual([]);
      expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['account-9']);
      const { rows } = await pool.query<{ user: string; tenant: string }>(
        `SELECT current_user AS user, current_setting('eventloom.tenant_id') AS tenant`,
      );
      expect(rows[0]).toEqual({ user: `${a.schema}_app`, tenant: 'tenant-c' });
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
