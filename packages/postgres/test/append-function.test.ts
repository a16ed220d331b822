/**
 * The SQL function `append`, called directly, inside a caller's transaction: since positions come
 * from the tenant's log head (migration 3), not from the transaction's xid, it may follow other
 * writes and run more than once per transaction; what the transaction wrote commits with it.
 */
import { collect } from '@eventloom/core';
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

  it('appends after other writes of its transaction, and twice in one transaction, in position order', async () => {
    const checkpoint = `INSERT INTO "${test.schema}".checkpoints (subscription_id, position) VALUES ('x', 1)`;
    expect(await inTransaction([checkpoint, call('fn-1'), call('fn-2')])).toBeNull();
    const [first, second] = await Promise.all(['fn-1', 'fn-2'].map(async (id) => (await collect(test.store.readStream(id)))[0]!));
    expect(first!.position + 1n).toBe(second!.position);
    expect(await test.store.headPosition()).toBe(second!.position);
  });

  it('a rolled-back transaction leaves neither its events nor its positions behind', async () => {
    const head = await test.store.headPosition();
    await sql.query('BEGIN');
    await sql.query(`SET LOCAL ROLE "${test.schema}_app"`);
    await sql.query(`SET LOCAL eventloom.tenant_id = 'default'`);
    await sql.query(call('fn-3'));
    await sql.query('ROLLBACK');
    expect((await test.store.streamInfo('fn-3')).version).toBe(0n);
    const result = await test.store.appendToStream('fn-4', [{ type: 'T', data: {} }]);
    expect(result.position).toBe(head + 1n);
  });
});
