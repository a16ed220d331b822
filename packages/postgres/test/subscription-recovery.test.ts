/**
 * A subscription, and a projection runner, whose connections keep being killed
 * (pg_terminate_backend of every backend of their stores, every 300 ms for 5 s, while another
 * store appends): they wait each outage out and read on from where they were, delivering every
 * event exactly once, and never end `failed`.
 */
import { ProjectionRunner, uuidv7, type ProjectionStatus, type Subscription, type SubscriptionStatus } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore, openPostgresReadModels, type PostgresEventStore } from '../src/index.js';
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

  /** Terminates every backend of the stores under test every 300 ms for `ms`; resolves with the count. */
  async function terminateRepeatedly(ms: number): Promise<number> {
    let terminated = 0;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { rows } = await admin.query<{ killed: boolean }>(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName],
      );
      terminated += rows.filter((row) => row.killed).length;
    }
    return terminated;
  }

  /** Appends `count` events over 7 streams through the store that is not terminated; resolves with the last position. */
  async function appendSlowly(count: number, prefix: string): Promise<{ ids: string[]; last: bigint }> {
    const ids: string[] = [];
    let last = 0n;
    for (let i = 0; i < count; i++) {
      const id = uuidv7();
      const result = await test.store.appendToStream(`${prefix}-${i % 7}`, [{ id, type: 'OrderNoted', data: { i } }]);
      ids.push(id);
      last = result.position;
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    return { ids, last };
  }

  it('a projection runner applies everything exactly once through repeated terminations, never failed', { timeout: 60_000 }, async () => {
    const url = new URL(connectionString);
    url.searchParams.set('application_name', applicationName);
    const pool = new pg.Pool({ connectionString: url.toString(), max: 3 });
    pool.on('error', () => undefined);
    const readModels = await openPostgresReadModels({ pool, schema: test.schema });
    const runner = new ProjectionRunner({
      eventStore: subscriber,
      readModels,
      pollIntervalMs: 50,
      failurePolicy: { retryDelayMs: 20, maxRetryDelayMs: 200 },
      projections: [projectionFixtures.ledgerProjection({ name: 'recovering-ledger' })],
    });
    const statuses = new Set<ProjectionStatus>();
    const watch = setInterval(() => statuses.add(runner.status('recovering-ledger').status), 10);
    try {
      await runner.start();
      const [terminated, { ids, last }] = await Promise.all([terminateRepeatedly(5_000), appendSlowly(250, 'ledger')]);
      await runner.waitForPosition('recovering-ledger', last, 30_000);
      expect(terminated).toBeGreaterThanOrEqual(10);
      expect(statuses.has('failed')).toBe(false);
      // Checked through connections that were never terminated.
      const checkPool = new pg.Pool({ connectionString, max: 1 });
      const check = await openPostgresReadModels({ pool: checkPool, schema: test.schema });
      const ledgers = await check.read('recovering-ledger', (view) => view.collection<projectionFixtures.StreamLedger>('ledgers').find());
      await check.close();
      await checkPool.end();
      expect(ledgers.reduce((sum, l) => sum + l.count, 0)).toBe(ids.length);
      expect(ledgers.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
    } finally {
      clearInterval(watch);
      await runner.stop();
      await readModels.close();
      await pool.end();
    }
  });

  it('delivers everything exactly once through repeated terminations, never failed', { timeout: 60_000 }, async () => {
    const delivered: string[] = [];
    const statuses = new Set<SubscriptionStatus>();
    const subscription: Subscription = subscriber.subscribe({
      subscriptionId: 'recovering',
      filter: { streamPrefixes: ['recovery-'] },
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
