/**
 * Live subscriptions wake on LISTEN/NOTIFY when another store instance (another process, another
 * machine) appends, without waiting for the poll; appends made behind the store's back (raw SQL,
 * no NOTIFY) are still found by polling.
 */
import type { RecordedEvent } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('live subscriptions', () => {
  let writer: TestStore;
  let reader: PostgresEventStore;
  beforeAll(async () => {
    writer = await openTestStore();
    // A second instance: its own pool and listening connection, as in another process.
    reader = await openPostgresEventStore({ connectionString, schema: writer.schema, poolSize: 2 });
  });
  afterAll(async () => {
    await reader?.close();
    await writer?.cleanup();
  });

  it("wakes on another instance's appends by NOTIFY, not by polling", async () => {
    const arrived: { event: RecordedEvent; at: number }[] = [];
    const subscription = reader.subscribe({
      filter: { streamPrefixes: ['notified-'] },
      pollIntervalMs: 60_000,
      handler: (event) => void arrived.push({ event, at: performance.now() }),
    });
    try {
      // The subscription has gone live (and is listening) once it has scanned the empty log.
      await subscription.waitFor(0n, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const sent = performance.now();
        const result = await writer.store.appendToStream(`notified-${i}`, [{ type: 'Ping', data: { i } }]);
        await subscription.waitFor(result.position, 10_000);
        delays.push(arrived.at(-1)!.at - sent);
      }
      expect(arrived.map((a) => a.event.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
      // Far below the 60 s poll: only a wake-up can explain it.
      expect(Math.max(...delays)).toBeLessThan(5_000);
    } finally {
      await subscription.stop();
    }
  });

  it('delivers while an unrelated transaction holding an xid stays open (it hid the log before migration 3)', async () => {
    const arrived: string[] = [];
    const subscription = reader.subscribe({
      filter: { streamPrefixes: ['hidden-'] },
      pollIntervalMs: 60_000,
      handler: (event) => void arrived.push(event.streamId),
    });
    const blocker = await adminClient();
    try {
      await subscription.waitFor(0n, 10_000);
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()');
      const sent = performance.now();
      const result = await writer.store.appendToStream('hidden-1', [{ type: 'Hidden', data: {} }]);
      await subscription.waitFor(result.position, 10_000);
      expect(arrived).toEqual(['hidden-1']);
      // Far below the 60 s poll: the wake-up found the event though the other transaction is open.
      expect(performance.now() - sent).toBeLessThan(5_000);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
      await subscription.stop();
    }
  });

  it('finds appends made without NOTIFY by polling', async () => {
    const seen: string[] = [];
    const subscription = reader.subscribe({
      filter: { streamPrefixes: ['raw-'] },
      pollIntervalMs: 100,
      handler: (event) => void seen.push(event.streamId),
    });
    const admin = await adminClient();
    try {
      await subscription.waitFor(0n, 10_000);
      await admin.query('BEGIN');
      await admin.query(`SET LOCAL ROLE "${writer.schema}_app"`);
      await admin.query(`SET LOCAL eventloom.tenant_id = 'default'`);
      await admin.query(
        `SELECT * FROM "${writer.schema}".append('raw-1', 0::smallint, NULL, ARRAY[gen_random_uuid()], ARRAY['Raw'], ARRAY[1],
           '[{}]'::jsonb, '[{}]'::jsonb, ARRAY['c'], ARRAY[NULL], now(), 'sql', false)`,
      );
      await admin.query('COMMIT');
      const deadline = Date.now() + 10_000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen).toEqual(['raw-1']);
    } finally {
      await admin.end();
      await subscription.stop();
    }
  });

  it('stops its subscriptions when the store closes', async () => {
    const extra = await openPostgresEventStore({ connectionString, schema: writer.schema, poolSize: 1 });
    const subscription = extra.subscribe({ handler: () => undefined });
    await subscription.waitFor(0n, 10_000);
    await extra.close();
    expect(subscription.status).toBe('stopped');
    expect(() => extra.subscribe({ handler: () => undefined })).toThrow(/closed/);
  });
});
