/**
 * Inline projections with the read models in a schema of their own: the appends (the event
 * store's role) may use tables the projection makes later (a rebuild makes them again, as the
 * read-model store's role), and a read-model store of another tenant is refused.
 */
import { defineProjection, InvalidArgumentError } from '@eventloom/core';
import { prepareProjection } from '@eventloom/core/adapter';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { addPostgresInlineProjection, dropPostgresEventStore, openPostgresReadModels, type PostgresProjectionHandle, type PostgresReadModelStore } from '../../src/index.js';
import { openTestStore } from '../support.js';
import { connectionString, ownerPool, postgresUrl, uniqueSchema } from './support.js';

type OrderEvent = projectionFixtures.OrderEvent;
const { created, uniqueOrderStream } = projectionFixtures;

const orderRows = defineProjection<OrderEvent, PostgresProjectionHandle>({
  name: 'order-rows',
  version: 1,
  init: async ({ client, table }) => {
    await client.query(`CREATE TABLE ${table('rows')} (order_id text PRIMARY KEY, total numeric NOT NULL)`);
  },
  handlers: {
    OrderCreated: async (event, { client, table }) => {
      await client.query(`INSERT INTO ${table('rows')} (order_id, total) VALUES ($1, $2)`, [event.data.orderId, event.data.total]);
    },
  },
});

describe.skipIf(!postgresUrl)('inline projections with read models in another schema (postgres)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(tenantId?: string) {
    const { store: eventStore, cleanup } = await openTestStore({ schema: uniqueSchema('eles'), ...(tenantId && { tenantId }) });
    cleanups.push(cleanup);
    const pool = ownerPool();
    const schema = uniqueSchema('elrs');
    const readModels: PostgresReadModelStore = await openPostgresReadModels({ pool, schema, ...(tenantId && { tenantId }) });
    cleanups.push(async () => {
      await readModels.close();
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    });
    return { eventStore, readModels, pool };
  }

  it('appends may write a projection table made after the registration, by the read-model store (a rebuild)', async () => {
    const { eventStore, readModels } = await open();
    const remove = await addPostgresInlineProjection({ eventStore, readModels, projection: orderRows });
    cleanups.push(async () => remove());
    // What a rebuild does: drop the version, prepare it again (its init makes the table anew, as the read-model store's role).
    await readModels.transaction((tx) => tx.dropNamespace(orderRows.namespace.namespace));
    await readModels.transaction((tx) => prepareProjection(tx, orderRows));
    const stream = uniqueOrderStream();
    const result = await eventStore.appendToStream(stream, [created(stream, 12)], { expectedVersion: 'no_stream' });
    expect(result.inlineSkipped).toBeUndefined();
    const rows = await readModels.read(orderRows.name, async (view) => (await view.pool.query<{ total: string }>(`SELECT total FROM ${view.table('rows')}`)).rows);
    expect(rows.map((r) => Number(r.total))).toEqual([12]);
  });

  it('refuses a read-model store of another tenant than the event store\'s, and registers nothing', async () => {
    const { eventStore } = await open('tenant-a');
    const pool = ownerPool();
    const schema = uniqueSchema('elrs');
    const other = await openPostgresReadModels({ pool, schema, tenantId: 'tenant-b' });
    cleanups.push(async () => {
      await other.close();
      await pool.end();
      await dropPostgresEventStore({ connectionString, schema });
    });
    const error = await addPostgresInlineProjection({ eventStore, readModels: other, projection: orderRows }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('tenant-b');
    expect((error as Error).message).toContain('tenant-a');
    expect(await other.listProjections()).toEqual([]);
  });
});
