/**
 * Group commit: appends made while another is in flight share one transaction, yet each answers
 * as if alone — a version conflict or a reused id fails only that append, exact retries answer
 * with what was recorded, and the log holds every success once, with contiguous positions.
 */
import { collect, DuplicateEventIdError, WrongExpectedVersionError } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, postgresUrl, type TestStore } from './support.js';

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
});
