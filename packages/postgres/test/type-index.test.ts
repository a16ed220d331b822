/**
 * Reads filtered by event type go through the (tenant, type, position) index: a read of a rare
 * type examines about as many index entries as it returns, not the whole log; several types are
 * merged in position order; the answers are the same as a walk of the log would give.
 */
import { collect } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, migrate, MIGRATIONS, namesFor, openPostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, uniqueSchema, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('type-filtered reads on PostgreSQL', () => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  /** 3,000 events in appends of 30: types Common, Other and Rare (one in a hundred), interleaved. */
  async function fill(): Promise<TestStore> {
    t = await openTestStore();
    for (let a = 0; a < 100; a++) {
      const events = Array.from({ length: 30 }, (_, i) => {
        const n = a * 30 + i;
        return { type: n % 100 === 7 ? 'Rare' : n % 2 === 0 ? 'Common' : 'Other', data: { n } };
      });
      await t.store.appendToStream(`${a % 2 === 0 ? 'even' : 'odd'}-${a}`, events);
    }
    return t;
  }

  it('returns each type asked for in log order, alone, merged with others, with prefixes and from a position', async () => {
    const { store } = await fill();
    const all = await collect(store.readAll());
    const expectFor = (types: string[], prefixes?: string[], from = 0n) =>
      all.filter((e) => types.includes(e.type) && e.position >= from && (!prefixes || prefixes.some((p) => e.streamId.startsWith(p)))).map((e) => e.position);
    const read = async (types: string[], prefixes?: string[], from?: bigint, batchSize = 7) =>
      (await collect(store.readAll({ filter: { eventTypes: types, ...(prefixes ? { streamPrefixes: prefixes } : {}) }, batchSize, ...(from !== undefined ? { fromPosition: from } : {}) }))).map((e) => e.position);
    expect(await read(['Rare'])).toEqual(expectFor(['Rare']));
    expect((await read(['Rare'])).length).toBe(30);
    expect(await read(['Rare', 'Other'])).toEqual(expectFor(['Rare', 'Other']));
    expect(await read(['Common', 'Rare', 'Other'], undefined, undefined, 500)).toEqual(all.map((e) => e.position));
    expect(await read(['Rare', 'Rare', 'Missing'])).toEqual(expectFor(['Rare']));
    expect(await read(['Rare', 'Other'], ['odd-'])).toEqual(expectFor(['Rare', 'Other'], ['odd-']));
    const middle = all[1_500]!.position;
    expect(await read(['Rare', 'Common'], undefined, middle)).toEqual(expectFor(['Rare', 'Common'], undefined, middle));
    // Seventeen types is past the merge's limit: the walk of the log answers the same.
    const many = ['Rare', ...Array.from({ length: 16 }, (_, i) => `Absent${i}`)];
    expect(await read(many)).toEqual(expectFor(['Rare']));
    expect(await read(['Missing'])).toEqual([]);
  });

  it('works in a schema whose name holds quotes and a percent sign', async () => {
    t = await openTestStore({ schema: `el 'odd' 100% "x" ${process.pid}` });
    await t.store.appendToStream('q-1', [{ type: 'A', data: {} }, { type: 'B', data: {} }, { type: 'A', data: {} }]);
    const read = await collect(t.store.readAll({ filter: { eventTypes: ['A', 'B'] } }));
    expect(read.map((e) => e.type)).toEqual(['A', 'B', 'A']);
    expect((await collect(t.store.readAll({ filter: { eventTypes: ['B'] } }))).map((e) => e.streamVersion)).toEqual([2n]);
  });

  it('a read of a rare type examines about as many index entries as it returns', async () => {
    const { schema } = await fill();
    const { qschema, role } = namesFor(schema);
    const admin = await adminClient();
    try {
      const stats = async () => {
        const { rows } = await admin.query<{ name: string; read: string }>(
          `SELECT indexrelname AS name, idx_tup_read::text AS read FROM pg_stat_user_indexes WHERE schemaname = $1`,
          [schema],
        );
        return new Map(rows.map((r) => [r.name, Number(r.read)]));
      };
      await admin.query('SELECT pg_stat_force_next_flush()');
      const before = await stats();
      await admin.query('BEGIN');
      await admin.query(`SET LOCAL ROLE "${role}"`);
      await admin.query(`SELECT set_config('eventloom.tenant_id', 'default', true)`);
      const { rows } = await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qschema}.read_log(0, ARRAY['Rare'], NULL, 500)`);
      await admin.query('COMMIT');
      expect(Number(rows[0]!.n)).toBe(30);
      await admin.query('SELECT pg_stat_force_next_flush()');
      const after = await stats();
      const read = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      expect(read('events_type_idx')).toBeGreaterThanOrEqual(30);
      expect(read('events_type_idx')).toBeLessThanOrEqual(31);
      // The walk of the log it replaces read the position index past all 3,000 events.
      expect(read('events_pkey')).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('upgrades a schema whose index a DBA built beforehand (CREATE INDEX CONCURRENTLY), keeping it', async () => {
    const schema = uniqueSchema('elti');
    const names = namesFor(schema);
    const admin = await adminClient();
    try {
      await migrate(admin, names, MIGRATIONS.filter((m) => m.version < 8));
      await admin.query(`CREATE INDEX CONCURRENTLY events_type_idx ON ${names.qschema}.events (tenant_id, type, position)`);
      const store = await openPostgresEventStore({ connectionString, schema, poolSize: 2 });
      try {
        await store.appendToStream('up-1', [{ type: 'A', data: {} }, { type: 'B', data: {} }]);
        expect((await collect(store.readAll({ filter: { eventTypes: ['B'] } }))).map((e) => e.type)).toEqual(['B']);
      } finally {
        await store.close();
      }
      const { rows } = await admin.query<{ version: number }>(`SELECT max(version) AS version FROM ${names.qschema}.schema_migrations`);
      expect(rows[0]!.version).toBe(MIGRATIONS.length);
      const indexes = await admin.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_type_idx'`, [schema]);
      expect(indexes.rowCount).toBe(1);
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});
