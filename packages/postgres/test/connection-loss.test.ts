/**
 * Connections lost mid-operation: the backend of an append is terminated (pg_terminate_backend)
 * while the append waits inside its statement, or inside its transaction. The caller gets a
 * clear StoreUnavailableError, the append is recorded whole or not at all, and the store goes on
 * working on fresh connections.
 */
import { collect, StoreUnavailableError, uuidv7 } from '@eventloom/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore } from '../src/index.js';
import { adminClient, openTestStore, postgresUrl, type TestStore } from './support.js';

/** Waits until a backend with a transaction runs a statement containing `text`, waiting; returns its pid. */
async function waitingBackend(admin: pg.Client, text: string): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    // pg_stat_activity is read once per transaction unless the snapshot is cleared.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE pid <> pg_backend_pid() AND position($1 in query) > 0 AND backend_xid IS NOT NULL AND wait_event IS NOT NULL`,
      [text],
    );
    if (rows[0]) return rows[0].pid;
    if (Date.now() > deadline) throw new Error(`no backend blocked on ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!postgresUrl)('connection lost mid-append', () => {
  let test: TestStore;
  let admin: pg.Client;
  beforeAll(async () => {
    test = await openTestStore();
    admin = await adminClient();
  });
  afterAll(async () => {
    await admin?.end();
    await test?.cleanup();
  });

  it('terminated inside the append statement: StoreUnavailableError, nothing written, the store recovers', async () => {
    const { store, schema } = test;
    const events = [
      { id: uuidv7(), type: 'Paid', data: { amount: 1 } },
      { id: uuidv7(), type: 'Paid', data: { amount: 2 } },
    ];
    // Hold the events table so the append's insert waits, with its transaction open.
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE "${schema}".events IN EXCLUSIVE MODE`);
    const attempt = store.appendToStream('payment-1', events).catch((e: unknown) => e);
    try {
      const pid = await waitingBackend(admin, `"${schema}".append(`);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.query('COMMIT');
    }
    const error = await attempt;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/append to payment-1.*recorded whole or not at all.*same event ids/s);
    expect(await collect(store.readStream('payment-1'))).toEqual([]);
    expect((await store.streamInfo('payment-1')).version).toBe(0n);
    // The retry the message advises is safe, and the pool has replaced the dead connection.
    const retry = await store.appendToStream('payment-1', events, { expectedVersion: 'no_stream' });
    expect(retry).toMatchObject({ idempotent: false, nextExpectedVersion: 2n });
    expect(await store.appendToStream('payment-1', events, { expectedVersion: 'no_stream' })).toMatchObject({ idempotent: true });
  });

  it('terminated inside the append transaction, after the insert: nothing written', async () => {
    const { store, schema } = test;
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const remove = store.addInlineHandler(async (events, client) => {
      entered();
      // Keep the transaction open on the server until the backend is gone.
      if (events[0]!.streamId === 'payment-2') await client.query('SELECT pg_sleep(30)');
    });
    try {
      const attempt = store.appendToStream('payment-2', [{ type: 'Paid', data: { amount: 3 } }]).catch((e: unknown) => e);
      await inHandler;
      const pid = await waitingBackend(admin, 'pg_sleep(30)');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await attempt;
      expect(error).toBeInstanceOf(StoreUnavailableError);
    } finally {
      remove();
    }
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".events WHERE stream_id = 'payment-2'`);
    expect(Number(rows[0]!.n)).toBe(0);
    expect(await store.appendToStream('payment-2', [{ type: 'Paid', data: {} }], { expectedVersion: 'no_stream' })).toMatchObject({
      nextExpectedVersion: 1n,
    });
  });

  it('reports an unreachable server as StoreUnavailableError when opening', async () => {
    const error = await openPostgresEventStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'nowhere' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/unreachable during opening the event store in schema nowhere/);
  });
});
