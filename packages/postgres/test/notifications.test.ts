/**
 * Wake-ups tell nothing about a tenant to anyone else: each tenant's channel is named by a random
 * secret that row-level security shows only to the tenant's own sessions, and the payload is
 * empty. A session listening on the schema's old shared channel hears nothing; another tenant's
 * channel stays silent when this tenant appends.
 */
import type { Notification } from 'pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, postgresUrl, uniqueSchema } from './support.js';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!postgresUrl)('notifications', () => {
  const schema = uniqueSchema('ntf');
  let a: PostgresEventStore;
  let b: PostgresEventStore;
  let listener: pg.Client;
  const heard: Notification[] = [];

  beforeAll(async () => {
    a = await openPostgresEventStore({ connectionString, schema, tenantId: 'tenant-a', poolSize: 2 });
    b = await openPostgresEventStore({ connectionString, schema, tenantId: 'tenant-b', poolSize: 2 });
    listener = await adminClient();
    listener.on('notification', (n) => void heard.push(n));
  });
  afterAll(async () => {
    await listener?.end();
    await a?.close();
    await b?.close();
    await dropPostgresEventStore({ connectionString, schema });
  });

  async function channels(): Promise<Map<string, string>> {
    // The superuser sees past row-level security: only to find what to listen on.
    const { rows } = await listener.query<{ tenant_id: string; channel: string }>(
      `SELECT tenant_id, channel FROM "${schema}".tenant_channels`,
    );
    return new Map(rows.map((r) => [r.tenant_id, r.channel]));
  }

  it('a session listening on the schema\'s old shared channel hears nothing', async () => {
    await listener.query(`LISTEN "${schema}_appended"`);
    const subscription = a.subscribe({ handler: () => undefined });
    try {
      await a.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
      await settle(300);
      expect(heard.filter((n) => n.channel === `${schema}_appended`)).toEqual([]);
    } finally {
      await subscription.stop();
      await listener.query('UNLISTEN *');
    }
  });

  it('each tenant has its own random channel, which other tenants cannot read', async () => {
    const byTenant = await channels();
    expect([...byTenant.keys()].sort()).toEqual(['tenant-a', 'tenant-b']);
    for (const channel of byTenant.values()) expect(channel).toMatch(/^el_[0-9a-f]{32}$/);
    expect(byTenant.get('tenant-a')).not.toBe(byTenant.get('tenant-b'));
    // Tenant B's own sessions see only B's row.
    const client = await b.pool.connect();
    try {
      const { rows } = await client.query<{ channel: string }>(`SELECT channel FROM "${schema}".tenant_channels`);
      expect(rows).toEqual([{ channel: byTenant.get('tenant-b') }]);
    } finally {
      client.release();
    }
  });

  it('an append wakes only its own tenant\'s channel, with an empty payload', async () => {
    const byTenant = await channels();
    const channelA = byTenant.get('tenant-a')!;
    const channelB = byTenant.get('tenant-b')!;
    await listener.query(`LISTEN "${channelA}"`);
    await listener.query(`LISTEN "${channelB}"`);
    heard.length = 0;
    const subscription = a.subscribe({ handler: () => undefined });
    try {
      await a.appendToStream('order-2', [{ type: 'Placed', data: { secret: 'tenant-a' } }]);
      await settle(300);
      expect(heard.length).toBeGreaterThan(0);
      expect(heard.every((n) => n.channel === channelA)).toBe(true);
      expect(heard.map((n) => n.payload ?? '')).toEqual(heard.map(() => ''));
      heard.length = 0;
      await b.appendToStream('order-2', [{ type: 'Placed', data: {} }]);
      await settle(300);
      expect(heard.map((n) => n.channel)).toEqual([channelB]);
    } finally {
      await subscription.stop();
      await listener.query('UNLISTEN *');
    }
  });

  it('a subscriber of one tenant is woken by another instance\'s appends of that tenant', async () => {
    const other = await openPostgresEventStore({ connectionString, schema, tenantId: 'tenant-a', poolSize: 2 });
    const seen: string[] = [];
    const subscription = a.subscribe({
      filter: { streamPrefixes: ['wake-'] },
      pollIntervalMs: 60_000,
      handler: (event) => void seen.push(event.streamId),
    });
    try {
      await settle(200);
      const result = await other.appendToStream('wake-1', [{ type: 'Placed', data: {} }]);
      await subscription.waitFor(result.position, 10_000);
      expect(seen).toEqual(['wake-1']);
    } finally {
      await subscription.stop();
      await other.close();
    }
  });
});
