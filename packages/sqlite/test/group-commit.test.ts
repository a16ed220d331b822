/**
 * Group commit: appends that arrive together share one transaction; each still settles on its
 * own, and none is acknowledged before its COMMIT.
 */
import Database from 'better-sqlite3';
import { collect, DuplicateEventIdError, uuidv7, WrongExpectedVersionError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../src/index.js';
import { useTempStore } from './temp-file.js';

const one = (n: number) => [{ type: 'Counted', data: { n } }];

describe('group commit', () => {
  const t = useTempStore();

  it('commits appends issued in the same turn in one transaction', async () => {
    const before = t.store.groupCommitStats;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => t.store.appendToStream(`counter-${i}`, one(i))));
    const after = t.store.groupCommitStats;
    expect(after.commits - before.commits).toBe(1);
    expect(after.appends - before.appends).toBe(50);
    expect(after.largestGroup).toBe(50);
    expect(results.map((r) => r.nextExpectedVersion)).toEqual(results.map(() => 1n));
    const positions = results.map((r) => r.position);
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('groups 16 writers looping on their own streams into far fewer commits than appends', async () => {
    const before = t.store.groupCommitStats;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 20; i++) await t.store.appendToStream(`writer-${w}`, one(i), { expectedVersion: BigInt(i) });
      }),
    );
    const commits = t.store.groupCommitStats.commits - before.commits;
    expect(t.store.groupCommitStats.appends - before.appends).toBe(320);
    expect(commits).toBeLessThanOrEqual(320 / 4);
    for (let w = 0; w < 16; w++) expect((await t.store.streamInfo(`writer-${w}`)).version).toBe(20n);
  });

  it('groups appends that each start in their own I/O callback', async () => {
    const before = t.store.groupCommitStats;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          await t.store.appendToStream(`request-${w}`, one(i));
        }
      }),
    );
    expect(t.store.groupCommitStats.appends - before.appends).toBe(160);
    expect(t.store.groupCommitStats.commits - before.commits).toBeLessThanOrEqual(160 / 4);
  });

  it('commits a lone sequential appender one append per commit, with nothing to wait for', async () => {
    const before = t.store.groupCommitStats;
    for (let i = 0; i < 10; i++) await t.store.appendToStream('alone-1', one(i), { expectedVersion: BigInt(i) });
    expect(t.store.groupCommitStats.commits - before.commits).toBe(10);
  });

  it('fails only the append whose expected version is wrong; the rest of the group commits', async () => {
    await t.store.appendToStream('order-1', one(0));
    const before = t.store.groupCommitStats;
    const results = await Promise.allSettled([
      t.store.appendToStream('order-2', one(1)),
      t.store.appendToStream('order-1', one(2), { expectedVersion: 5n }),
      t.store.appendToStream('order-3', one(3)),
      t.store.appendToStream('order-1', one(4), { expectedVersion: 1n }),
    ]);
    expect(t.store.groupCommitStats.commits - before.commits).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const failure = (results[1] as PromiseRejectedResult).reason as WrongExpectedVersionError;
    expect(failure).toBeInstanceOf(WrongExpectedVersionError);
    expect(failure.actualVersion).toBe(1n);
    const log = await collect(t.store.readAll<{ type: string; data: { n: number } }>());
    expect(log.map((e) => e.data.n)).toEqual([0, 1, 3, 4]);
  });

  it('sees earlier appends of the same group: the second of two racing appends loses', async () => {
    const results = await Promise.allSettled([
      t.store.appendToStream('race-1', one(1), { expectedVersion: 'no_stream' }),
      t.store.appendToStream('race-1', one(2), { expectedVersion: 'no_stream' }),
    ]);
    expect(results[0]!.status).toBe('fulfilled');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
  });

  it('treats a retry within the same group as idempotent, and a stolen id as a duplicate', async () => {
    const ids = [uuidv7(), uuidv7()];
    const events = ids.map((id, n) => ({ id, type: 'Counted', data: { n } }));
    const [first, retry, stolen] = await Promise.allSettled([
      t.store.appendToStream('order-9', events, { expectedVersion: 'no_stream' }),
      t.store.appendToStream('order-9', events, { expectedVersion: 'no_stream' }),
      t.store.appendToStream('order-10', [events[1]!]),
    ]);
    expect(first.status === 'fulfilled' && first.value.idempotent).toBe(false);
    expect(retry.status === 'fulfilled' && retry.value).toMatchObject({ idempotent: true, nextExpectedVersion: 2n });
    expect(stolen.status === 'rejected' && stolen.reason).toBeInstanceOf(DuplicateEventIdError);
    expect(await collect(t.store.readAll())).toHaveLength(2);
  });

  it('acknowledges an append only once another connection can see it', async () => {
    const reader = new Database(t.file.filename, { readonly: true });
    const count = reader.prepare('SELECT count(*) FROM events').pluck();
    try {
      const seen = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const result = await t.store.appendToStream(`visible-${i}`, one(i));
          // Synchronously, right where the append resolves: the commit must already be done.
          const visible = reader.prepare('SELECT count(*) FROM events WHERE position = ?').pluck().get(result.position);
          return visible;
        }),
      );
      expect(seen).toEqual(seen.map(() => 1));
      expect(count.get()).toBe(8);
    } finally {
      reader.close();
    }
  });

  it('commits appends accepted before close() and refuses new ones after', async () => {
    const pending = t.store.appendToStream('late-1', one(1));
    await t.store.close();
    await expect(pending).resolves.toMatchObject({ nextExpectedVersion: 1n });
    await expect(t.store.appendToStream('late-1', one(2))).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    t.store = openSqliteEventStore({ filename: t.file.filename });
    expect((await t.store.streamInfo('late-1')).version).toBe(1n);
  });
});
