/**
 * The queue's statements stay index scans as the table grows, with no ANALYZE ever run (the local
 * server has autovacuum off; issue 9 saw a claim prepared on an empty table turn 10× slower).
 * auto_explain reports the plans of the real functions, as the store's role runs them, to this
 * session (as notices).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { PostgresTransportDriver } from '../../src/messaging/index.js';
import { adminClient, postgresUrl, prepared, receiveWithin, receiverOptions, testDrivers, type TestDrivers } from './support.js';

describe.skipIf(!postgresUrl)('PostgreSQL queue plans without statistics', () => {
  let drivers: TestDrivers;
  let driver: PostgresTransportDriver;
  let admin: pg.Client;
  const notices: string[] = [];

  beforeAll(async () => {
    drivers = testDrivers();
    driver = await drivers.open();
    // 20,000 waiting rows of the probed queue, 10,000 of another, some of them keyed.
    for (let i = 0; i < 20; i++) await driver.enqueue({ kind: 'queue', name: 'probe' }, prepared(1_000, i % 2 ? { partitionKey: `k${i}` } : {}));
    for (let i = 0; i < 10; i++) await driver.enqueue({ kind: 'queue', name: 'other' }, prepared(1_000));
    admin = await adminClient();
    admin.on('notice', (notice) => notices.push(notice.message ?? ''));
    const { rows } = await admin.query(`SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'queue_messages'`, [drivers.schema]);
    expect(rows).toEqual([{ last_analyze: null, last_autoanalyze: null }]);
    await admin.query(`LOAD 'auto_explain'`);
    await admin.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice; SET auto_explain.log_analyze = on`);
    await admin.query(`SET ROLE "${drivers.schema}_app"; SELECT set_config('eventloom.tenant_id', 'default', false)`);
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await drivers?.cleanup();
  });

  async function plansOf(sql: string, values: unknown[]): Promise<string> {
    notices.length = 0;
    await admin.query(sql, values);
    return notices.join('\n');
  }

  it('claims through the ready index in order and updates by ctid; no sort, no whole-range scan', async () => {
    const plan = await plansOf(`SELECT * FROM "${drivers.schema}".queue_claim('q:probe', 100, 'probe', 30000)`, []);
    expect(plan).toContain('queue_messages_ready_idx');
    expect(plan).toContain('Tid Scan');
    expect(plan).not.toMatch(/Seq Scan|Sort|Bitmap/);
    expect(plan).toMatch(/Tid Scan[^\n]*rows=100 /);
  });

  it('acknowledges by primary-key probes, one per row', async () => {
    const receiver = await driver.openReceiver({ queue: 'probe' }, receiverOptions('probe'));
    const got = await receiveWithin(receiver, 100, 5_000);
    expect(got.length).toBeGreaterThan(0);
    const tokens = got.map((m) => m.token as { destination: string; seq: bigint; attempts: number });
    const plan = await plansOf(`SELECT "${drivers.schema}".queue_remove($1::text[], $2::bigint[], $3::integer[])`, [
      tokens.map((t) => t.destination),
      tokens.map((t) => t.seq.toString()),
      tokens.map((t) => t.attempts),
    ]);
    expect(plan).toMatch(/Index Scan using queue_messages_pkey[^\n]*loops=\d+/);
    expect(plan).not.toMatch(/Seq Scan on queue_messages|Bitmap Heap Scan on queue_messages|Hash/);
  });
});
