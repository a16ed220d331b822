/**
 * Positions are bigints below 2^63. A log whose head has little room left (only old xid-based
 * positions can get there) refuses to open with a typed error that says what to do; the store
 * opens again once the head is back in range.
 */
import { StoreUnavailableError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { MIN_POSITION_HEADROOM, openPostgresEventStore } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl } from './support.js';

describe.skipIf(!postgresUrl)('position headroom', () => {
  it('refuses to open a log near the end of the bigint range, saying what to do', async () => {
    const test = await openTestStore();
    const admin = await adminClient();
    try {
      await test.store.appendToStream('h-1', [{ type: 'T', data: {} }]);
      const near = 2n ** 63n - 1n - MIN_POSITION_HEADROOM + 1n;
      await admin.query(`UPDATE "${test.schema}".log_heads SET position = $1`, [near.toString()]);
      const error = await openPostgresEventStore({ connectionString, schema: test.schema }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain(`is at position ${near}`);
      expect((error as Error).message).toContain('docs/postgres-event-store.md');
      await admin.query(`UPDATE "${test.schema}".log_heads SET position = 1`);
      const reopened = await openPostgresEventStore({ connectionString, schema: test.schema });
      expect((await reopened.appendToStream('h-1', [{ type: 'T', data: {} }])).position).toBe(2n);
      await reopened.close();
    } finally {
      await admin.end();
      await test.cleanup();
    }
  });
});
