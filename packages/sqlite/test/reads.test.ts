/** SQLite-specific reads: prefix ranges as data, the category index, tombstones, upcasting, paging. */
import { collect, SchemaRegistry, StoreClosedError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { logQuery, successor } from '../src/sql/log-query.js';
import { useTempStore } from './temp-file.js';

const one = [{ type: 'Counted', data: {} }];

describe('successor (the upper bound of a prefix range)', () => {
  it('is the least string above every string with the prefix', () => {
    expect(successor('order-')).toBe('order.');
    expect(successor('a%')).toBe('a&');
    expect(successor('ü')).toBe('ý');
    expect(successor('x\u{1F642}')).toBe('x\u{1F643}');
    expect(successor('x\u{D7FF}')).toBe('x\u{E000}');
    expect(successor('a\u{10FFFF}')).toBe('b');
    expect(successor('\u{10FFFF}\u{10FFFF}')).toBeUndefined();
  });
});

describe('log queries', () => {
  it('pick the category index for one category prefix, the type index for one type, else the log', () => {
    expect(logQuery({ streamPrefixes: ['order-'] }).sql).toContain('INDEXED BY events_by_category');
    expect(logQuery({ streamPrefixes: ['order-12'], eventTypes: ['A'] }).sql).toContain('INDEXED BY events_by_category');
    expect(logQuery({ eventTypes: ['A'] }).sql).toContain('INDEXED BY events_by_type');
    expect(logQuery({ eventTypes: ['A', 'B'] }).sql).toContain('NOT INDEXED');
    expect(logQuery({ streamPrefixes: ['ord'] }).sql).toContain('NOT INDEXED');
    expect(logQuery(undefined).sql).not.toContain('INDEX');
  });
});

describe('reads', () => {
  const t = useTempStore();

  const streamsOf = async (filter: Parameters<SqliteEventStore['readAll']>[0]) =>
    (await collect(t.store.readAll(filter))).map((e) => e.streamId);

  it('matches prefixes exactly, whatever characters the ids hold', async () => {
    const ids = ['order', 'order-1', 'order-🙂', 'order-\u{10FFFF}x', 'order.1', 'orders-1', 'ord%-1', 'ord_-1', "o'r-1", 'ordeR-1'];
    for (const id of ids) await t.store.appendToStream(id, one);
    expect(await streamsOf({ filter: { streamPrefixes: ['order-'] } })).toEqual(['order-1', 'order-🙂', 'order-\u{10FFFF}x']);
    expect(await streamsOf({ filter: { streamPrefixes: ['order'] } })).toEqual(['order', 'order-1', 'order-🙂', 'order-\u{10FFFF}x', 'order.1', 'orders-1']);
    expect(await streamsOf({ filter: { streamPrefixes: ['ord%'] } })).toEqual(['ord%-1']);
    expect(await streamsOf({ filter: { streamPrefixes: ['ord_-'] } })).toEqual(['ord_-1']);
    expect(await streamsOf({ filter: { streamPrefixes: ["o'r-"] } })).toEqual(["o'r-1"]);
    expect(await streamsOf({ filter: { streamPrefixes: ['order-🙂'] } })).toEqual(['order-🙂']);
    expect((await collect(t.store.readCategory('order'))).map((e) => e.streamId)).toEqual(['order-1', 'order-🙂', 'order-\u{10FFFF}x']);
    expect((await collect(t.store.readCategory('ord%'))).map((e) => e.streamId)).toEqual(['ord%-1']);
  });

  it('combines several prefixes and types in log order', async () => {
    await t.store.appendToStream('a-1', [{ type: 'X', data: {} }]);
    await t.store.appendToStream('b-1', [{ type: 'Y', data: {} }]);
    await t.store.appendToStream('c-1', [{ type: 'X', data: {} }]);
    await t.store.appendToStream('a-2', [{ type: 'Z', data: {} }, { type: 'Y', data: {} }]);
    const read = async (filter: { eventTypes?: string[]; streamPrefixes?: string[] }, batchSize = 1) =>
      (await collect(t.store.readAll({ filter, batchSize }))).map((e) => `${e.streamId}/${e.type}`);
    expect(await read({ streamPrefixes: ['a-', 'c-'] })).toEqual(['a-1/X', 'c-1/X', 'a-2/Z', 'a-2/Y']);
    expect(await read({ eventTypes: ['X', 'Y'] })).toEqual(['a-1/X', 'b-1/Y', 'c-1/X', 'a-2/Y']);
    expect(await read({ eventTypes: ['Y'], streamPrefixes: ['a-', 'b-'] })).toEqual(['b-1/Y', 'a-2/Y']);
    expect(await read({ eventTypes: ['Y', 'Z'], streamPrefixes: ['a-'] })).toEqual(['a-2/Z', 'a-2/Y']);
  });

  it('leaves tombstoned streams out of the log, keeps their ids taken, and counts them in the head', async () => {
    const kept = await t.store.appendToStream('order-1', one);
    const gone = await t.store.appendToStream('order-2', [{ type: 'Counted', data: {} }, { type: 'Counted', data: {} }]);
    await t.store.appendToStream('order-3', one);
    await t.store.deleteStream('order-2', { hard: true });
    expect(await streamsOf({})).toEqual(['order-1', 'order-3']);
    expect(await streamsOf({ filter: { streamPrefixes: ['order-'] } })).toEqual(['order-1', 'order-3']);
    expect(await streamsOf({ filter: { eventTypes: ['Counted'] } })).toEqual(['order-1', 'order-3']);
    expect(await t.store.headPosition()).toBe(gone.position + 1n);
    await expect(t.store.appendToStream('order-4', [{ id: gone.events[0]!.id, type: 'Counted', data: {} }])).rejects.toMatchObject({
      code: 'DUPLICATE_EVENT_ID',
    });
    expect(kept.position).toBeLessThan(gone.position);
  });

  it('reads a stream within the versions it had when the read began', async () => {
    await t.store.appendToStream('order-1', [{ type: 'Counted', data: {} }, { type: 'Counted', data: {} }]);
    const versions: bigint[] = [];
    for await (const event of t.store.readStream('order-1', { batchSize: 1 })) {
      versions.push(event.streamVersion);
      if (versions.length === 1) await t.store.appendToStream('order-1', one);
    }
    expect(versions).toEqual([1n, 2n]);
  });

  it('refuses to read on once the t.store is closed', async () => {
    await t.store.appendToStream('order-1', [{ type: 'Counted', data: {} }, { type: 'Counted', data: {} }]);
    const iterator = t.store.readStream('order-1', { batchSize: 1 })[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await t.store.close();
    await expect(iterator.next()).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('upcasts what inline handlers and reads see, and stores what was appended', async () => {
    await t.store.close();
    const schemas = new SchemaRegistry().upcaster<{ total: number }, { total: number; currency: string }>({
      type: 'OrderPlaced',
      fromVersion: 1,
      upcast: (data) => ({ ...data, currency: 'EUR' }),
    });
    t.store = openSqliteEventStore({ filename: t.file.filename, schemas });
    const inline: unknown[] = [];
    t.store.addInlineHandler((events) => inline.push(...events.map((e) => e.data)));
    await t.store.appendToStream('order-1', [{ type: 'OrderPlaced', schemaVersion: 1, data: { total: 3 } }]);
    expect(inline).toEqual([{ total: 3, currency: 'EUR' }]);
    expect((await collect(t.store.readStream('order-1')))[0]).toMatchObject({ schemaVersion: 2, data: { total: 3, currency: 'EUR' } });
    // Schema version 1 is the envelope column's default: NULL stands for it.
    expect(t.store.database.prepare("SELECT coalesce(envelope ->> '$[0]', 1) AS schema_version, data FROM events").get()).toEqual({ schema_version: 1, data: '{"total":3}' });
  });
});

describe('tombstones in log reads', () => {
  const t = useTempStore();

  it('a stream tombstoned between two pages of a read leaves the rest of that read', async () => {
    await t.store.appendToStream('a-1', [{ type: 'X', data: {} }]);
    await t.store.appendToStream('b-1', [{ type: 'X', data: {} }]);
    await t.store.appendToStream('a-1', [{ type: 'X', data: {} }]);
    await t.store.appendToStream('b-1', [{ type: 'X', data: {} }]);
    for (const fields of [undefined, ['streamId'] as const]) {
      const seen: string[] = [];
      for await (const event of t.store.readAll({ batchSize: 1, ...(fields && { fields }) })) {
        seen.push(event.streamId!);
        if (seen.length === 1 && fields === undefined) await t.store.deleteStream('b-1', { hard: true });
      }
      expect(seen).toEqual(['a-1', 'a-1']); // the first read from its second page on, the second throughout
    }
  });
});
