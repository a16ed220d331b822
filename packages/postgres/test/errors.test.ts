/**
 * What the server answers with besides success reaches the caller as a typed EventloomError with
 * the driver's error as `cause`: statement time-outs, a read-only server, serialization failures
 * and deadlocks (retried where the store's own transaction can be), lock time-outs, missing
 * privileges, SQLSTATEs nobody planned for, and refused connections on every path — the event
 * store's and the read-model store's.
 */
import net from 'node:net';
import {
  collect,
  EventloomError,
  StoreBusyError,
  StoreReadOnlyError,
  StoreUnavailableError,
  uuidv7,
} from '@eventloom/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresReadModels } from '../src/index.js';
import { adminClient, connectionString, openTestStore, postgresUrl, uniqueSchema, type TestStore } from './support.js';

/** `connectionString` with extra start-up options, as a user would write them. */
function withOptions(options: string): string {
  const url = new URL(connectionString);
  url.searchParams.set('options', options);
  return url.toString();
}

function expectTyped(error: unknown, code: string): EventloomError {
  expect(error).toBeInstanceOf(EventloomError);
  expect((error as EventloomError).code).toBe(code);
  return error as EventloomError;
}

/** A TCP hop to the server that can be cut: afterwards, connections are refused. */
async function startProxy(): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(connectionString);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(connectionString);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    cut: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!postgresUrl)('server errors on PostgreSQL', () => {
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

  it('a statement time-out (57014) is STORE_UNAVAILABLE saying nothing was written', async () => {
    const { schema } = test;
    const store = await openPostgresEventStore({ connectionString: withOptions('-c statement_timeout=300'), schema, poolSize: 2 });
    try {
      await admin.query('BEGIN');
      await admin.query(`LOCK TABLE "${schema}".events IN EXCLUSIVE MODE`);
      const error = await store.appendToStream('timeout-1', [{ type: 'T', data: {} }]).catch((e: unknown) => e);
      await admin.query('COMMIT');
      const typed = expectTyped(error, 'STORE_UNAVAILABLE');
      expect(typed.message).toMatch(/append to timeout-1.*cancel.*57014/s);
      expect((typed.cause as { code?: string }).code).toBe('57014');
      // Time can fix a time-out: subscriptions and runners wait it out.
      expect((typed as StoreUnavailableError).retryable).toBe(true);
      expect((await store.streamInfo('timeout-1')).version).toBe(0n);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await store.close();
    }
  });

  it('opening on a read-only server says so with StoreReadOnlyError and changes nothing', async () => {
    const schema = uniqueSchema();
    const error = await openPostgresEventStore({ connectionString: withOptions('-c default_transaction_read_only=on'), schema }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreReadOnlyError);
    expect((error as Error).message).toMatch(/read-only.*primary/s);
    expect((error as Error).cause).toMatchObject({ code: '25006' });
    const { rows } = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(rows).toEqual([]);
    // An up-to-date schema too: the store needs a writable server.
    await expect(
      openPostgresEventStore({ connectionString: withOptions('-c default_transaction_read_only=on'), schema: test.schema }),
    ).rejects.toBeInstanceOf(StoreReadOnlyError);
  });

  it('the read-model store on a read-only server says so too', async () => {
    const pool = new pg.Pool({ connectionString: withOptions('-c default_transaction_read_only=on'), max: 1 });
    try {
      await expect(openPostgresReadModels({ pool, schema: uniqueSchema() })).rejects.toBeInstanceOf(StoreReadOnlyError);
    } finally {
      await pool.end();
    }
  });

  it('a deadlock (40P01) inside the append transaction is retried: both appends succeed', async () => {
    // Two tenants' appends run side by side (one tenant's appends may take turns); their inline handlers deadlock.
    const stores = await Promise.all(
      ['dl-a', 'dl-b'].map((tenantId) => openPostgresEventStore({ connectionString, schema: test.schema, tenantId, poolSize: 2 })),
    );
    let entered = 0;
    let release!: () => void;
    const bothIn = new Promise<void>((resolve) => (release = resolve));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 10_000));
    const attempts: string[] = [];
    const removers = stores.map((store) =>
      store.addInlineHandler(async (_events, client) => {
        attempts.push(store.tenantId);
        const [first, second] = store.tenantId === 'dl-a' ? [1, 2] : [2, 1];
        await client.query('SELECT pg_advisory_xact_lock(77, $1)', [first]);
        if (++entered === 2) release();
        await Promise.race([bothIn, timeout]);
        await client.query('SELECT pg_advisory_xact_lock(77, $1)', [second]);
      }),
    );
    try {
      const results = await Promise.all(stores.map((store) => store.appendToStream('deadlock-1', [{ type: 'T', data: {} }]).catch((e: unknown) => e)));
      for (const result of results) expect(result).toMatchObject({ nextExpectedVersion: 1n });
      expect(entered).toBeGreaterThanOrEqual(2);
      expect(attempts.length).toBe(3);
      for (const store of stores) expect((await store.streamInfo('deadlock-1')).version).toBe(1n);
    } finally {
      removers.forEach((remove) => remove());
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 30_000);

  it('a serialization failure (40001) that keeps coming back ends as STORE_BUSY after bounded retries, nothing written', async () => {
    const { store } = test;
    let calls = 0;
    const remove = store.addInlineHandler(async (events, client) => {
      if (events[0]!.streamId !== 'serial-1') return;
      calls++;
      await client.query(`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`);
    });
    try {
      const error = await store.appendToStream('serial-1', [{ type: 'T', data: {} }]).catch((e: unknown) => e);
      const typed = expectTyped(error, 'STORE_BUSY');
      expect(typed).toBeInstanceOf(StoreBusyError);
      expect((typed.cause as { code?: string }).code).toBe('40001');
      expect(calls).toBeGreaterThan(1);
      expect(calls).toBeLessThanOrEqual(5);
      expect((await store.streamInfo('serial-1')).version).toBe(0n);
    } finally {
      remove();
    }
  }, 30_000);

  it('a lock time-out (55P03) is STORE_BUSY', async () => {
    const { store, schema } = test;
    await store.appendToStream('locked-1', [{ type: 'T', data: {} }]);
    const remove = store.addInlineHandler(async (events, client) => {
      if (events[0]!.streamId !== 'locked-2') return;
      await client.query(`SET LOCAL lock_timeout = '100ms'`);
      await client.query(`SELECT 1 FROM "${schema}".streams WHERE stream_id = 'locked-1' FOR UPDATE`);
    });
    await admin.query('BEGIN');
    try {
      await admin.query(`SELECT set_config('eventloom.tenant_id', 'default', true)`);
      await admin.query(`SELECT 1 FROM "${schema}".streams WHERE stream_id = 'locked-1' FOR UPDATE`);
      const error = await store.appendToStream('locked-2', [{ type: 'T', data: {} }]).catch((e: unknown) => e);
      const typed = expectTyped(error, 'STORE_BUSY');
      expect((typed.cause as { code?: string }).code).toBe('55P03');
    } finally {
      await admin.query('ROLLBACK');
      remove();
    }
    expect((await store.streamInfo('locked-2')).version).toBe(0n);
  });

  it('a missing privilege (42501) is STORE_UNAVAILABLE naming the privilege problem, not retryable', async () => {
    const { store, schema } = test;
    await store.appendToStream('denied-1', [{ type: 'T', data: {} }]);
    await admin.query(`REVOKE SELECT ON "${schema}".events FROM "${schema}_app"`);
    try {
      const error = await collect(store.readStream('denied-1')).catch((e: unknown) => e);
      const typed = expectTyped(error, 'STORE_UNAVAILABLE');
      expect(typed.message).toMatch(/permission denied.*42501/s);
      expect((typed.cause as { code?: string }).code).toBe('42501');
      // Only a person can fix it: subscriptions and runners stop visibly instead of retrying for ever.
      expect((typed as StoreUnavailableError).retryable).toBe(false);
    } finally {
      await admin.query(`GRANT SELECT ON "${schema}".events TO "${schema}_app"`);
    }
  });

  it('an SQLSTATE nobody planned for is STORE_UNAVAILABLE naming the operation and the code, not retryable', async () => {
    const { store } = test;
    const remove = store.addInlineHandler(async (events, client) => {
      if (events[0]!.streamId === 'odd-1') await client.query('SELECT 1 / 0');
    });
    try {
      const error = await store.appendToStream('odd-1', [{ type: 'T', data: {} }]).catch((e: unknown) => e);
      const typed = expectTyped(error, 'STORE_UNAVAILABLE');
      expect(typed.message).toMatch(/append to odd-1.*22012/s);
      expect((typed as StoreUnavailableError).retryable).toBe(false);
      expect(typed.cause).toBeInstanceOf(pg.DatabaseError);
    } finally {
      remove();
    }
  });

  it('refused connections are STORE_UNAVAILABLE on every path of the event store', async () => {
    const proxy = await startProxy();
    const schema = test.schema;
    const store = await openPostgresEventStore({ connectionString: proxy.url, schema, poolSize: 2 });
    try {
      await store.appendToStream('refused-1', [{ type: 'T', data: {} }]);
      await proxy.cut();
      const calls: [string, () => Promise<unknown>][] = [
        ['appendToStream', () => store.appendToStream('refused-1', [{ id: uuidv7(), type: 'T', data: {} }])],
        ['readStream', () => collect(store.readStream('refused-1'))],
        ['readAll', () => collect(store.readAll())],
        ['headPosition', () => store.headPosition()],
        ['streamInfo', () => store.streamInfo('refused-1')],
        ['setStreamMetadata', () => store.setStreamMetadata('refused-1', { maxCount: 3 })],
        ['deleteStream', () => store.deleteStream('refused-1')],
        ['checkpoints.load', () => store.checkpoints.load('s')],
        ['checkpoints.store', () => store.checkpoints.store('s', 1n)],
        ['snapshots.load', () => store.snapshots.load('refused-1')],
        ['snapshots.save', () => store.snapshots.save({ streamId: 'refused-1', version: 1n, schemaVersion: 1, state: {}, time: new Date().toISOString() })],
        ['resizeConsumerGroup', () => store.resizeConsumerGroup({ group: 'g', partitions: 2 })],
        ['openPostgresEventStore', () => openPostgresEventStore({ connectionString: proxy.url, schema })],
        ['dropPostgresEventStore', () => dropPostgresEventStore({ connectionString: proxy.url, schema: uniqueSchema() })],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => new Error(`${name} succeeded`),
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).cause, name).toBeDefined();
      }
    } finally {
      await store.close();
    }
  });

  it("refused connections are STORE_UNAVAILABLE on every path of the read-model store, including read, leases, listing and dead letters", async () => {
    const proxy = await startProxy();
    const pool = new pg.Pool({ connectionString: proxy.url, max: 2 });
    pool.on('error', () => undefined);
    const readModels = await openPostgresReadModels({ pool, schema: test.schema });
    try {
      await proxy.cut();
      const calls: [string, () => Promise<unknown>][] = [
        ['read', () => readModels.read({ name: 'p', version: 1 }, (view) => view.collection('c').get('x'))],
        ['read active', () => readModels.read('p', () => 1)],
        ['tryAcquireLease', () => readModels.tryAcquireLease('k', 'me', 1_000)],
        ['releaseLease', () => readModels.releaseLease('k', 'me')],
        ['listProjections', () => readModels.listProjections()],
        ['deadLetters', () => readModels.deadLetters()],
        ['deadLetters of one', () => readModels.deadLetters('p@1')],
        ['transaction', () => readModels.transaction((tx) => tx.getState('p@1'))],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => new Error(`${name} succeeded`),
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message, name).toMatch(/read models/);
        expect((error as Error).cause, name).toBeDefined();
      }
    } finally {
      await readModels.close();
      await pool.end();
    }
  });
});
