/**
 * Declared indexes on PostgreSQL: the query the store builds for the guide's
 * `getCustomerOrders(customerId)` is answered from the collection's index (EXPLAIN), conditions
 * and order included, for the store's tenant only; other tenants' indexes are their own.
 */
import { defineCollection, type FindQuery } from '@eventloom/core';
import { normalizeQuery, projectionNamespace } from '@eventloom/core/adapter';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresReadModels, type PostgresReadModelStore } from '../../src/index.js';
import { selectSql } from '../../src/projections/query-sql.js';
import { adminClient } from '../support.js';
import { connectionString, ownerPool, postgresUrl, uniqueSchema } from './support.js';

interface CustomerOrder {
  customerId: string;
  placedAt: string;
  total: number;
}

const customerOrders = defineCollection<CustomerOrder>('customer-orders', { indexes: { byCustomer: ['customerId', 'placedAt'] } });
const p = projectionNamespace('customer-orders', 1);

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe.skipIf(!postgresUrl)('PostgreSQL read-model queries', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(tenantId = 'default', schema = uniqueSchema('elrq')): Promise<{ readModels: PostgresReadModelStore; schema: string }> {
    const pool = ownerPool();
    const readModels = await openPostgresReadModels({ pool, schema, tenantId });
    cleanups.push(async () => {
      await readModels.close();
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    });
    return { readModels, schema };
  }

  /** The plan of the SQL `find` runs for `query`, run as the store runs it (its role, its tenant). */
  async function plan(readModels: PostgresReadModelStore, query: FindQuery<CustomerOrder>): Promise<PlanNode[]> {
    const sql = selectSql({ s: `"${readModels.schema}"`, tenantId: readModels.tenantId, namespace: p.namespace, collection: customerOrders.name }, normalizeQuery(customerOrders.name, query));
    return readModels.transaction(async (tx) => {
      const { rows } = await tx.handle(p).client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.values);
      return nodes(rows[0]!['QUERY PLAN'][0].Plan);
    });
  }

  it('answers a customer\'s orders, newest first, from the declared index: conditions and order', async () => {
    const { readModels, schema } = await open();
    await readModels.transaction(async (tx) => {
      await tx.prepareCollections(p, [customerOrders]);
      const orders = tx.handle(p).collection(customerOrders);
      for (let i = 0; i < 3000; i++) {
        await orders.upsert(`o${i}`, { customerId: `c${i % 100}`, placedAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(), total: i });
      }
    });
    const admin = await adminClient();
    try {
      await admin.query(`ANALYZE "${schema}".rm_documents`);
    } finally {
      await admin.end();
    }
    const query: FindQuery<CustomerOrder> = { where: { customerId: 'c7', placedAt: { gte: '2026-01-01T10:00' } }, orderBy: [['placedAt', 'desc']], limit: 20 };
    const planned = await plan(readModels, query);
    const scan = planned.find((n) => n['Index Name']?.startsWith('rm_ix_'));
    expect(scan, JSON.stringify(planned)).toBeDefined();
    // The customer and the time bound are looked up in the index, not filtered afterwards...
    expect(scan!['Index Cond']).toContain('rm_str(data, \'customerId\'::text)');
    expect(scan!['Index Cond']).toContain('rm_str(data, \'placedAt\'::text)');
    // ...and the index gives the order: nothing is sorted.
    expect(planned.map((n) => n['Node Type'])).not.toContain('Sort');

    const found = await readModels.read(p, (view) => view.collection(customerOrders).find(query));
    expect(found.length).toBe(20);
    expect(found.every((o) => o.customerId === 'c7')).toBe(true);
    expect(found.map((o) => o.placedAt)).toEqual([...found.map((o) => o.placedAt)].sort().reverse());
  });

  it('opened by a user who is not a superuser: the field functions stay not leakproof, and queries answer the same', async () => {
    const admin = await adminClient();
    const user = `elrq_user_${process.pid}_${Date.now().toString(36)}`;
    const schema = uniqueSchema('elrq');
    await admin.query(`CREATE ROLE "${user}" LOGIN CREATEROLE`);
    const database = new URL(connectionString).pathname.slice(1);
    await admin.query(`GRANT CREATE ON DATABASE "${database}" TO "${user}"`);
    const url = new URL(connectionString);
    url.username = user;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    pool.on('error', () => undefined);
    cleanups.push(async () => {
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
      await admin.query(`REVOKE CREATE ON DATABASE "${database}" FROM "${user}"`);
      await admin.query(`DROP OWNED BY "${user}"`);
      await admin.query(`DROP ROLE "${user}"`);
      await admin.end();
    });
    const readModels = await openPostgresReadModels({ pool, schema });
    cleanups.push(() => readModels.close());
    const { rows } = await admin.query<{ proname: string; proleakproof: boolean }>(
      `SELECT proname, proleakproof FROM pg_proc WHERE pronamespace = $1::regnamespace AND proname IN ('rm_kind', 'rm_num', 'rm_str') ORDER BY 1`,
      [`"${schema}"`],
    );
    expect(rows).toEqual([
      { proname: 'rm_kind', proleakproof: false },
      { proname: 'rm_num', proleakproof: false },
      { proname: 'rm_str', proleakproof: false },
    ]);
    await readModels.transaction(async (tx) => {
      await tx.prepareCollections(p, [customerOrders]);
      for (let i = 0; i < 30; i++) await tx.handle(p).collection(customerOrders).upsert(`o${i}`, { customerId: `c${i % 3}`, placedAt: `2026-01-${String(1 + i).padStart(2, '0')}`, total: i });
    });
    const found = await readModels.read(p, (view) =>
      view.collection(customerOrders).find({ where: { customerId: 'c1', placedAt: { gte: '2026-01-20' } }, orderBy: [['placedAt', 'desc']] }),
    );
    expect(found.map((o) => o.placedAt)).toEqual(['2026-01-29', '2026-01-26', '2026-01-23', '2026-01-20']);
  });

  it('a tenant\'s declared indexes are its own: dropping its version leaves another tenant\'s index and documents', async () => {
    const { readModels: a, schema } = await open('tenant-a');
    const { readModels: b } = await open('tenant-b', schema);
    for (const store of [a, b]) {
      await store.transaction(async (tx) => {
        await tx.prepareCollections(p, [customerOrders]);
        await tx.handle(p).collection(customerOrders).upsert('o1', { customerId: 'c1', placedAt: '2026-01-01', total: store.tenantId.length });
      });
    }
    const admin = await adminClient();
    const indexes = async (): Promise<string[]> =>
      (await admin.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'rm_ix_%' ORDER BY 1`, [schema])).rows.map(
        (r) => r.indexname,
      );
    try {
      expect(await indexes()).toHaveLength(2);
      await a.transaction((tx) => tx.dropNamespace(p.namespace));
      expect(await indexes()).toHaveLength(1);
      expect(await b.read(p, (view) => view.collection(customerOrders).find({ where: { customerId: 'c1' } }))).toHaveLength(1);
      expect(await a.read(p, (view) => view.collection(customerOrders).count())).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
