/** Versioned migrations: applied once, in order, safely from many processes at once, upgradable from older versions. */
import { collect, InvalidArgumentError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { dropPostgresEventStore, migrate, MIGRATIONS, namesFor, openPostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, postgresUrl, uniqueSchema } from './support.js';

describe.skipIf(!postgresUrl)('migrations', () => {
  it('applies every migration once, even when many stores open a new schema at the same time', async () => {
    const schema = uniqueSchema('mig');
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresEventStore({ connectionString, schema, poolSize: 1 })));
    const admin = await adminClient();
    try {
      const { rows } = await admin.query<{ version: number; name: string }>(
        `SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`,
      );
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      await stores[0]!.appendToStream('m-1', [{ type: 'X', data: {} }]);
      expect(await collect(stores[4]!.readStream('m-1'))).toHaveLength(1);
    } finally {
      await admin.end();
      await Promise.all(stores.map((s) => s.close()));
      await dropPostgresEventStore({ connectionString, schema });
    }
  });

  it('upgrades a schema made by an older version, keeping its events', async () => {
    const schema = uniqueSchema('mig');
    const names = namesFor(schema);
    const admin = await adminClient();
    try {
      expect(await migrate(admin, names, MIGRATIONS.slice(0, 1))).toEqual({ applied: [1], version: 1 });
      // Written by version-1 code, through its function, as its role.
      await admin.query('BEGIN');
      await admin.query(`SET LOCAL ROLE ${names.qrole}`);
      await admin.query(`SET LOCAL eventloom.tenant_id = 'default'`);
      await admin.query(
        `SELECT * FROM ${names.qschema}.append('old-1', 0::smallint, NULL, ARRAY[gen_random_uuid()], ARRAY['Old'], ARRAY[1],
           '[{"v":1}]'::jsonb, '[{}]'::jsonb, ARRAY['c'], ARRAY[NULL], now(), 'v1', false)`,
      );
      await admin.query('COMMIT');
      const store = await openPostgresEventStore({ connectionString, schema, poolSize: 1 });
      try {
        const { rows } = await admin.query<{ version: number }>(`SELECT version FROM ${names.qschema}.schema_migrations ORDER BY 1`);
        expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
        const [old] = await collect(store.readStream('old-1'));
        expect(old!.data).toEqual({ v: 1 });
        // Migration 3: positions from the log head continue above the old xid-based ones.
        expect(old!.position).toBeGreaterThan(1n << 20n);
        const next = await store.appendToStream('old-1', [{ type: 'New', data: {} }], { expectedVersion: 1n });
        expect(next.position).toBe(old!.position + 1n);
        expect(await store.headPosition()).toBe(next.position);
        // The newer migration's parts work for the store's role.
        const member = store.subscribeGroup({ group: 'g', partitions: 2, handler: () => undefined });
        await expect(Promise.race([member.done, new Promise((r) => setTimeout(r, 300, 'running'))])).resolves.toBe('running');
        await member.stop();
      } finally {
        await store.close();
      }
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });

  it('refuses to open a schema migrated by a newer version of the package', async () => {
    const schema = uniqueSchema('mig');
    const store = await openPostgresEventStore({ connectionString, schema, poolSize: 1 });
    await store.close();
    const admin = await adminClient();
    try {
      await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (99, 'from the future')`);
      const error = await openPostgresEventStore({ connectionString, schema }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain(`${schema} is at migration 99, but this version of @eventloom/postgres knows migrations up to ${MIGRATIONS.length}`);
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });

  it('restores the grants when the role was dropped and made again', async () => {
    const schema = uniqueSchema('mig');
    const first = await openPostgresEventStore({ connectionString, schema, poolSize: 1 });
    await first.appendToStream('r-1', [{ type: 'X', data: {} }]);
    await first.close();
    const admin = await adminClient();
    try {
      const role = namesFor(schema).qrole;
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
      const again = await openPostgresEventStore({ connectionString, schema, poolSize: 1 });
      try {
        expect(await collect(again.readStream('r-1'))).toHaveLength(1);
      } finally {
        await again.close();
      }
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});
