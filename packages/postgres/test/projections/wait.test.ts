/**
 * How `waitForPosition` is woken on PostgreSQL: a NOTIFY sent in the transaction that moves the
 * checkpoint (so it arrives at commit, never on a rollback), on the tenant's own random channel,
 * with an empty payload — another tenant's listener hears nothing.
 */
import { projectionNamespace } from '@eventloom/core/adapter';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresReadModels, type PostgresReadModelStore } from '../../src/index.js';
import { adminClient } from '../support.js';
import { connectionString, ownerPool, postgresUrl, uniqueSchema } from './support.js';

describe.skipIf(!postgresUrl)('PostgreSQL read models: waking waiters', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(tenantId: string, schema: string): Promise<PostgresReadModelStore> {
    const pool = ownerPool();
    const readModels = await openPostgresReadModels({ pool, schema, tenantId });
    cleanups.push(async () => {
      await readModels.close();
      await pool.end();
    });
    return readModels;
  }

  /** Every notification `client` receives from now on. */
  function heard(client: pg.Client): pg.Notification[] {
    const got: pg.Notification[] = [];
    client.on('notification', (n) => got.push(n));
    return got;
  }

  it('a checkpoint commit notifies the tenant\'s secret channel, with nothing in the payload; a rollback and other tenants notify nothing there', async () => {
    const schema = uniqueSchema('elrw');
    cleanups.push(() => dropPostgresEventStore({ connectionString, schema }));
    const a = await open('tenant-a', schema);
    const b = await open('tenant-b', schema);
    const admin = await adminClient();
    cleanups.push(() => admin.end());
    const channels = (await admin.query<{ tenant_id: string; channel: string }>(`SELECT tenant_id, channel FROM "${schema}".rm_channels ORDER BY 1`)).rows;
    expect(channels.map((c) => c.tenant_id)).toEqual(['tenant-a', 'tenant-b']);
    expect(channels[0]!.channel).not.toBe(channels[1]!.channel);
    await admin.query(`LISTEN "${channels[0]!.channel}"`);
    const got = heard(admin);
    const p = projectionNamespace('waking', 1);

    await a.transaction(async (tx) => {
      await tx.createState(p);
      await tx.setCheckpoint(p.namespace, 1n);
    });
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
    expect(got[0]!.channel).toBe(channels[0]!.channel);
    expect(got[0]!.payload ?? '').toBe('');

    // Rolled back: nothing is sent. Another tenant's commit: not on this channel.
    await a
      .transaction(async (tx) => {
        await tx.setCheckpoint(p.namespace, 2n);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await b.transaction(async (tx) => {
      await tx.createState(p);
      await tx.setCheckpoint(p.namespace, 5n);
    });
    // A later commit of tenant a arrives; nothing came between.
    await a.transaction((tx) => tx.setCheckpoint(p.namespace, 3n));
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(got).toHaveLength(2);
  });

  it('a waiter in another store (another process\'s connections) resolves on the NOTIFY, and reads the document', async () => {
    const schema = uniqueSchema('elrw');
    cleanups.push(() => dropPostgresEventStore({ connectionString, schema }));
    const writer = await open('default', schema);
    const waiter = await open('default', schema);
    const p = projectionNamespace('waking', 1);
    await writer.transaction(async (tx) => {
      await tx.createState(p);
      await tx.setActiveVersion(p.name, p.version);
    });
    const waiting = waiter.waitForPosition(p.name, 7n, { timeoutMs: 20_000 });
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    await writer.transaction(async (tx) => {
      await tx.handle(p).collection<{ n: number }>('docs').upsert('x', { n: 7 });
      await tx.setCheckpoint(p.namespace, 7n);
    });
    await waiting;
    expect(await waiter.read(p.name, (view) => view.collection<{ n: number }>('docs').get('x'))).toEqual({ n: 7 });
  });
});
