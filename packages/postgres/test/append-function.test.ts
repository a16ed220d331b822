/**
 * The SQL function `append`, called directly: it must be the first write of its transaction,
 * because a transaction that wrote before already holds its xid — the basis of the position —
 * which could predate the stream's lock and land below the stream's last event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, openTestStore, postgresUrl, type TestStore } from './support.js';
import type pg from 'pg';

describe.skipIf(!postgresUrl)('the append function', () => {
  let test: TestStore;
  let sql: pg.Client;
  beforeAll(async () => {
    test = await openTestStore();
    sql = await adminClient();
  });
  afterAll(async () => {
    await sql?.end();
    await test?.cleanup();
  });

  const call = (streamId: string) =>
    `SELECT "${test.schema}".append('${streamId}', 0::smallint, NULL, ARRAY[gen_random_uuid()], ARRAY['T'], ARRAY[1],
       '[{}]'::jsonb, '[{}]'::jsonb, ARRAY['c'], ARRAY[NULL], now(), 'sql', false)`;

  async function inTransaction(statements: string[]): Promise<unknown> {
    await sql.query('BEGIN');
    try {
      await sql.query(`SET LOCAL ROLE "${test.schema}_app"`);
      await sql.query(`SET LOCAL eventloom.tenant_id = 'default'`);
      for (const statement of statements) await sql.query(statement);
      await sql.query('COMMIT');
      return null;
    } catch (error) {
      await sql.query('ROLLBACK');
      return error;
    }
  }

  it('appends when it is the first write of its transaction', async () => {
    expect(await inTransaction([`SELECT 1`, call('fn-1')])).toBeNull();
    expect((await test.store.streamInfo('fn-1')).version).toBe(1n);
  });

  it('refuses a second append, or an append after another write, in one transaction', async () => {
    const twice = await inTransaction([call('fn-2'), call('fn-3')]);
    expect(twice).toMatchObject({ code: 'EL005', message: expect.stringContaining('first write of its transaction') });
    const afterWrite = await inTransaction([`INSERT INTO "${test.schema}".checkpoints (subscription_id, position) VALUES ('x', 1)`, call('fn-4')]);
    expect(afterWrite).toMatchObject({ code: 'EL005' });
    for (const id of ['fn-2', 'fn-3', 'fn-4']) expect((await test.store.streamInfo(id)).version).toBe(0n);
  });
});
