/**
 * A store survives a real `pg_dump`/`pg_restore` onto a fresh server (a throwaway cluster with a
 * transaction-id counter far below the main server's): everything reads back, appends to old
 * streams work, new events land above the old ones, and a subscription resumed from its restored
 * checkpoint sees every new event once. The procedure is the one docs/postgres-event-store.md
 * documents.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { collect, type RecordedEvent } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore } from '../src/index.js';
import { PG_BIN, startThrowawayCluster, type ThrowawayCluster } from './fixtures/throwaway-cluster.js';
import { adminClient, connectionString, postgresUrl, uniqueSchema } from './support.js';

const run = promisify(execFile);

describe.skipIf(!postgresUrl)('dump and restore onto a fresh server', () => {
  let cluster: ThrowawayCluster;
  const schema = uniqueSchema('dump');
  const dumpDir = mkdtempSync(join(tmpdir(), 'eventloom-dump-'));
  const dumpFile = join(dumpDir, 'store.dump');

  beforeAll(async () => {
    cluster = await startThrowawayCluster();
    // The main server has handed out many more transaction ids than a fresh cluster has.
    const admin = await adminClient();
    try {
      await admin.query(`SELECT pg_current_xact_id()`);
    } finally {
      await admin.end();
    }
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dumpDir, { recursive: true, force: true });
    await dropPostgresEventStore({ connectionString, schema }).catch(() => undefined);
  }, 120_000);

  it('keeps every event, appends above the old ones, and resumes subscriptions with nothing lost', async () => {
    const before = await openPostgresEventStore({ connectionString, schema, poolSize: 2 });
    const oldEvents: RecordedEvent[] = [];
    try {
      for (let i = 0; i < 3; i++) await before.appendToStream('order-1', [{ type: 'Placed', data: { i } }]);
      await before.appendToStream('order-2', [{ type: 'Placed', data: { i: 3 } }, { type: 'Placed', data: { i: 4 } }]);
      oldEvents.push(...(await collect(before.readAll())));
      expect(oldEvents).toHaveLength(5);
      const seen: number[] = [];
      const subscription = before.subscribe({ subscriptionId: 'billing', handler: (event) => void seen.push((event.data as { i: number }).i) });
      await subscription.waitFor(oldEvents.at(-1)!.position, 20_000);
      await subscription.stop();
      expect(seen).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await before.close();
    }

    // #region restore-procedure
    // One schema, in pg_dump's custom format; restored without owners and grants: opening the
    // store on the new server makes its role again and grants it what it needs.
    await run(join(PG_BIN, 'pg_dump'), ['--format=custom', `--schema=${schema}`, `--file=${dumpFile}`, connectionString]);
    await run(join(PG_BIN, 'pg_restore'), ['--no-owner', '--no-privileges', `--dbname=${cluster.url()}`, dumpFile]);
    const after = await openPostgresEventStore({ connectionString: cluster.url(), schema });
    // #endregion restore-procedure

    try {
      expect(await collect(after.readAll())).toEqual(oldEvents);
      expect(await after.headPosition()).toBe(oldEvents.at(-1)!.position);
      const appended = await after.appendToStream('order-1', [{ type: 'Placed', data: { i: 5 } }], { expectedVersion: 3n });
      const fresh = await after.appendToStream('order-3', [{ type: 'Placed', data: { i: 6 } }], { expectedVersion: 'no_stream' });
      expect(appended.position).toBeGreaterThan(oldEvents.at(-1)!.position);
      expect(fresh.position).toBeGreaterThan(appended.position);
      expect((await collect(after.readStream('order-1'))).map((e) => e.streamVersion)).toEqual([1n, 2n, 3n, 4n]);

      const resumed: number[] = [];
      const subscription = after.subscribe({ subscriptionId: 'billing', handler: (event) => void resumed.push((event.data as { i: number }).i) });
      try {
        await subscription.waitFor(fresh.position, 20_000);
      } finally {
        await subscription.stop();
      }
      expect(resumed).toEqual([5, 6]);
      expect((await collect(after.readAll())).map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    } finally {
      await after.close();
    }
  });
});
