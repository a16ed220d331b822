/**
 * An append's events go into the log in statements of up to 16 rows, each row with the position
 * the append gives it: what the append reports must be what the log holds, whatever the append's
 * size, inside a group with others, across an exact retry and a failure half-way.
 */
import Database from 'better-sqlite3';
import { collect, DuplicateEventIdError, uuidv7, WrongExpectedVersionError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { useTempStore } from './temp-file.js';

const events = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ type: 'Counted', data: { n: from + i } }));

describe('appends in batched insert statements', () => {
  const t = useTempStore();

  it('records every size from 1 to 50 events at the positions and versions it reports', async () => {
    const sizes = Array.from({ length: 50 }, (_, i) => i + 1);
    for (const size of sizes) {
      const result = await t.store.appendToStream(`sized-${size}`, events(size));
      const read = await collect(t.store.readStream(`sized-${size}`));
      expect(read.map((e) => e.data)).toEqual(events(size).map((e) => e.data));
      expect(read.map((e) => e.streamVersion)).toEqual(Array.from({ length: size }, (_, i) => BigInt(i + 1)));
      expect(read.map((e) => e.position)).toEqual(result.events.map((e) => e.position));
      expect(read.map((e) => e.id)).toEqual(result.events.map((e) => e.id));
      expect(result.position).toBe(read[size - 1]!.position);
    }
    const log = await collect(t.store.readAll());
    expect(log.length).toBe((50 * 51) / 2);
    // One writer: the log has no gaps, in the order the appends were made.
    expect(log.map((e) => e.position)).toEqual(log.map((_, i) => BigInt(i + 1)));
    expect(log.map((e) => `${e.streamId}/${e.streamVersion}`)).toEqual(sizes.flatMap((size) => Array.from({ length: size }, (_, i) => `sized-${size}/${i + 1}`)));
  });

  it('gives appends grouped in one commit consecutive, non-overlapping positions', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => t.store.appendToStream(`grouped-${i}`, events(7 + i * 5))));
    const reported = results.flatMap((r) => r.events.map((e) => `${e.position}:${e.id}`));
    const log = await collect(t.store.readAll());
    expect(log.map((e) => `${e.position}:${e.id}`)).toEqual(reported);
    expect(new Set(log.map((e) => e.position)).size).toBe(log.length);
  });

  it('an exact retry of a 40-event append writes nothing and answers the same', async () => {
    const batch = events(40).map((e) => ({ ...e, id: uuidv7() }));
    const first = await t.store.appendToStream('retried', batch, { expectedVersion: 'no_stream' });
    const again = await t.store.appendToStream('retried', batch, { expectedVersion: 'no_stream' });
    expect(again.idempotent).toBe(true);
    expect(again.nextExpectedVersion).toBe(40n);
    expect(again.position).toBe(first.position);
    expect((await collect(t.store.readAll())).length).toBe(40);
  });

  it('an id already in the log in the third statement of an append fails it whole, and the next append takes the positions', async () => {
    const taken = uuidv7();
    await t.store.appendToStream('owner', [{ id: taken, type: 'Counted', data: { n: -1 } }]);
    const batch = events(40).map((e, i) => ({ ...e, id: i === 35 ? taken : uuidv7() }));
    await expect(t.store.appendToStream('clashing', batch)).rejects.toBeInstanceOf(DuplicateEventIdError);
    expect((await t.store.streamInfo('clashing')).exists).toBe(false);
    const next = await t.store.appendToStream('after', events(20));
    const log = await collect(t.store.readAll());
    expect(log.length).toBe(21);
    expect(log.map((e) => e.position)).toEqual(log.map((_, i) => BigInt(i + 1)));
    expect(next.events[0]!.position).toBe(2n);
  });

  it('a failed append inside a group leaves the others at consecutive positions', async () => {
    await t.store.appendToStream('exists', events(1));
    const outcomes = await Promise.allSettled([
      t.store.appendToStream('g-1', events(20)),
      t.store.appendToStream('exists', events(30), { expectedVersion: 'no_stream' }),
      t.store.appendToStream('g-2', events(18)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    const log = await collect(t.store.readAll());
    expect(log.length).toBe(39);
    expect(log.map((e) => e.position)).toEqual(log.map((_, i) => BigInt(i + 1)));
  });

  it('continues after the highest position another connection wrote', async () => {
    await t.store.appendToStream('first', events(3));
    // A second process appending to the same file moves the head under this store's feet.
    const { openSqliteEventStore } = await import('../src/index.js');
    const other = openSqliteEventStore({ filename: t.file.filename });
    await other.appendToStream('other', events(17));
    await other.close();
    const mine = await t.store.appendToStream('second', events(5));
    expect(mine.events.map((e) => e.position)).toEqual([21n, 22n, 23n, 24n, 25n]);
    const db = new Database(t.file.filename, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n, max(position) AS p FROM events').get()).toEqual({ n: 25, p: 25 });
    } finally {
      db.close();
    }
  });
});
