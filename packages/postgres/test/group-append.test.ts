/**
 * Group commit: appends made while another is in flight share one transaction, yet each answers
 * as if alone — a version conflict or a reused id fails only that append, exact retries answer
 * with what was recorded, and the log holds every success once, with contiguous positions.
 */
import { collect, DuplicateEventIdError, WrongExpectedVersionError } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { dropPostgresEventStore, openPostgresEventStore } from '../src/index.js';
import { connectionString, openTestStore, postgresUrl, uniqueSchema, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('group commit of concurrent appends', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore({ poolSize: 8 });
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('fails only the appends that must fail, and records every other one once', async () => {
    const { store } = test;
    const first = await store.appendToStream('g-base', [{ id: crypto.randomUUID(), type: 'T', data: { n: 0 } }]);
    const retryEvents = first.events.map((e) => ({ id: e.id, type: e.type, data: e.data }));
    const taken = crypto.randomUUID();
    await store.appendToStream('g-taken', [{ id: taken, type: 'T', data: {} }]);
    for (let round = 0; round < 5; round++) {
      const calls = [
        ...Array.from({ length: 12 }, (_, i) => store.appendToStream(`g-new-${round}-${i}`, [{ type: 'T', data: { i } }], { expectedVersion: 'no_stream' })),
        ...Array.from({ length: 4 }, () => store.appendToStream('g-base', [{ type: 'T', data: {} }], { expectedVersion: 7n })),
        ...Array.from({ length: 3 }, () => store.appendToStream('g-base', retryEvents, { expectedVersion: 'no_stream' })),
        store.appendToStream(`g-dup-${round}`, [{ id: taken, type: 'T', data: {} }]),
      ];
      const outcomes = await Promise.allSettled(calls);
      const fulfilled = outcomes.slice(0, 12);
      expect(fulfilled.every((o) => o.status === 'fulfilled')).toBe(true);
      for (const o of outcomes.slice(12, 16)) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
      }
      for (const o of outcomes.slice(16, 19)) {
        expect(o).toMatchObject({ status: 'fulfilled', value: { idempotent: true, position: first.position } });
        expect(o.status === 'fulfilled' ? o.value.events : null).toEqual(first.events);
      }
      expect(outcomes[19]).toMatchObject({ status: 'rejected' });
      expect((outcomes[19] as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateEventIdError);
    }
    const log = await collect(store.readAll());
    expect(log).toHaveLength(2 + 5 * 12);
    expect(log.map((e) => e.position)).toEqual(log.map((_, i) => log[0]!.position + BigInt(i)));
    expect((await store.streamInfo('g-base')).version).toBe(1n);
    for (let round = 0; round < 5; round++) expect((await store.streamInfo(`g-dup-${round}`)).version).toBe(0n);
  });

  it('runs a group\'s appends in the order they were made: appends to one stream chain their versions', async () => {
    const { store } = test;
    const stream = `g-chain-${crypto.randomUUID()}`;
    // The first goes alone; the ones made while it is in flight form a group behind it.
    const calls = [
      store.appendToStream(`g-lead-${crypto.randomUUID()}`, [{ type: 'T', data: {} }]),
      store.appendToStream(stream, [{ type: 'T', data: { n: 1 } }], { expectedVersion: 'no_stream' }),
      store.appendToStream(stream, [{ type: 'T', data: { n: 2 } }, { type: 'T', data: { n: 3 } }], { expectedVersion: 1n }),
      store.appendToStream(stream, [{ type: 'T', data: { n: 4 } }], { expectedVersion: 3n }),
    ];
    const results = await Promise.all(calls);
    expect(results.slice(1).map((r) => r.nextExpectedVersion)).toEqual([1n, 3n, 4n]);
    const events = await collect(store.readStream(stream));
    expect(events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect(events.map((e) => e.position)).toEqual(results.slice(1).flatMap((r) => r.events.map((e) => e.position)));
  });

  it('gathers the writers that come back into one group, sent in one statement: 16 writers, about one checkout and one query per round', async () => {
    const pool = new pg.Pool({ connectionString, max: 16 });
    const schema = uniqueSchema();
    const store = await openPostgresEventStore({ pool, schema });
    let checkouts = 0;
    let queries = 0;
    let counting = false;
    const wrapped = new WeakSet<pg.PoolClient>();
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    Object.assign(pool, {
      async connect() {
        const client = await connect();
        if (counting) checkouts++;
        if (!wrapped.has(client)) {
          wrapped.add(client);
          const query = client.query.bind(client) as (...args: unknown[]) => unknown;
          Object.assign(client, {
            query: (...args: unknown[]) => {
              if (counting) queries++;
              return query(...args);
            },
          });
        }
        return client;
      },
    });
    try {
      const rounds = 20;
      counting = true;
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          let expectedVersion: bigint | 'no_stream' = 'no_stream';
          for (let i = 0; i < rounds; i++) {
            expectedVersion = (await store.appendToStream(`w-${w}`, [{ type: 'T', data: { i } }], { expectedVersion })).nextExpectedVersion;
          }
        }),
      );
      counting = false;
      expect((await collect(store.readAll())).length).toBe(16 * rounds);
      // Taking the queue at once sent one writer alone before each group (2 checkouts per round);
      // a query per append kept 18 per group (BEGIN, 16 appends, COMMIT).
      expect(checkouts).toBeLessThanOrEqual(rounds + 4);
      // The session set-up of each of the 16 connections once, then one statement per group.
      expect(queries).toBeLessThanOrEqual(checkouts + 16);
    } finally {
      await store.close();
      await dropPostgresEventStore({ connectionString, schema });
      await pool.end();
    }
  });
});
