/**
 * A subscription whose connections keep being killed (pg_terminate_backend of every backend of
 * its store, every 300 ms for 5 s, while another store appends): it waits each outage out and
 * reads on from where it was, delivering every event exactly once, and never ends `failed`.
 */
import { uuidv7, type Subscription, type SubscriptionStatus } from '@eventloom/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, type PostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('subscription recovery from lost connections', () => {
  let test: TestStore;
  let subscriber: PostgresEventStore;
  let admin: pg.Client;
  const applicationName = `elt_recovery_${process.pid}_${Date.now().toString(36)}`;
  beforeAll(async () => {
    test = await openTestStore({ poolSize: 2 });
    const url = new URL(connectionString);
    url.searchParams.set('application_name', applicationName);
    subscriber = await openPostgresEventStore({ connectionString: url.toString(), schema: test.schema, poolSize: 2 });
    admin = await adminClient();
  });
  afterAll(async () => {
    await subscriber?.close();
    await admin?.end();
    await test?.cleanup();
  });

  it('delivers everything exactly once through repeated terminations, never failed', { timeout: 60_000 }, async () => {
    const delivered: string[] = [];
    const statuses = new Set<SubscriptionStatus>();
    const subscription: Subscription = subscriber.subscribe({
      subscriptionId: 'recovering',
      pollIntervalMs: 50,
      retryDelayMs: 20,
      handler: (event) => void delivered.push(event.id),
    });
    const watch = setInterval(() => statuses.add(subscription.status), 10);
    const appended: string[] = [];
    let terminated = 0;
    const killing = (async () => {
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const { rows } = await admin.query<{ killed: boolean }>(
          'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [applicationName],
        );
        terminated += rows.filter((row) => row.killed).length;
      }
    })();
    let last = 0n;
    const appending = (async () => {
      for (let i = 0; i < 250; i++) {
        const id = uuidv7();
        const result = await test.store.appendToStream(`recovery-${i % 7}`, [{ id, type: 'Ticked', data: { i } }]);
        appended.push(id);
        last = result.position;
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    await Promise.all([killing, appending]);
    try {
      await subscription.waitFor(last, 30_000);
    } finally {
      clearInterval(watch);
    }
    expect(terminated).toBeGreaterThanOrEqual(10);
    expect(statuses.has('failed')).toBe(false);
    expect(subscription.status).toBe('live');
    expect(delivered).toEqual(appended);
    await subscription.stop();
    expect(await test.store.checkpoints.load('recovering')).toBe(last);
  });
});
