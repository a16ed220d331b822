/**
 * What PostgreSQL refuses or could misread, caught before anything is sent: U+0000 and broken
 * Unicode in data, metadata and text fields; and names, filters and ids shaped like SQL, which
 * must travel as data. Every rejection is a typed error naming the field, and writes nothing.
 */
import {
  collect,
  InvalidArgumentError,
  InvalidEventError,
  StoreClosedError,
  type EventToAppend,
} from '@eventloom/core';
import { type PreparedAppend } from '@eventloom/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertAppendable } from '../src/append.js';
import { MAX_EVENTS_PER_TRANSACTION } from '../src/sql/functions.js';
import { openTestStore, postgresUrl, type TestStore } from './support.js';

const SQL_SHAPED = [`o'; DROP TABLE events; --`, 'o%_\\', 'o"; SELECT pg_sleep(10); --', 'o$fn$', 'o-ünï🙂'];

describe.skipIf(!postgresUrl)('bad input on PostgreSQL', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore();
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  const unstorable: { name: string; field: string; event: EventToAppend }[] = [
    { name: 'U+0000 in a data string', field: 'events[0].data.note', event: { type: 'X', data: { note: 'a\u0000b' } } },
    { name: 'U+0000 deep in data', field: 'events[0].data.lines[1].sku', event: { type: 'X', data: { lines: [{}, { sku: '\u0000' }] } } },
    { name: 'U+0000 in a data key', field: 'events[0].data key "k\\u0000"', event: { type: 'X', data: { 'k\u0000': 1 } } },
    { name: 'U+0000 in metadata', field: 'events[0].metadata.userId', event: { type: 'X', data: {}, metadata: { userId: 'u\u0000' } } },
    { name: 'U+0000 in the type', field: 'events[0].type', event: { type: 'Bad\u0000Type', data: {} } },
    { name: 'U+0000 in the correlation id', field: 'events[0].correlationId', event: { type: 'X', data: {}, correlationId: 'c\u0000' } },
    { name: 'half a surrogate pair in data', field: 'events[0].data.name', event: { type: 'X', data: { name: 'x\ud800y' } } },
    { name: 'half a surrogate pair in the type', field: 'events[0].type', event: { type: 'X\udc00', data: {} } },
  ];
  for (const c of unstorable) {
    it(`rejects ${c.name} with InvalidEventError naming ${c.field}, writing nothing`, async () => {
      const { store } = test;
      const streamId = `unstorable-${unstorable.indexOf(c)}`;
      const error = await store.appendToStream(streamId, [{ type: 'Fine', data: { ok: true } }, c.event].reverse()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect((error as InvalidEventError).field).toBe(c.field);
      expect((error as Error).message).toMatch(/PostgreSQL cannot store/);
      expect(await store.streamInfo(streamId)).toMatchObject({ version: 0n, exists: false });
    });
  }

  it('refuses a stream id holding half a surrogate pair, which would be stored under another id', async () => {
    const { store } = test;
    const error = await store.appendToStream('broken-\ud800', [{ type: 'X', data: {} }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('streamId');
    await expect(store.deleteStream('broken-\udfff')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await collect(store.readCategory('broken'))).toEqual([]);
  });

  it('keeps a backslash-u sequence that is text, not an escape', async () => {
    const { store } = test;
    const data = { path: 'C:\\u0000\\dir', pair: '🙂' };
    await store.appendToStream('text-1', [{ type: 'X', data }]);
    expect((await collect(store.readStream('text-1')))[0]!.data).toEqual(data);
  });

  it('refuses more events than one transaction can number, before sending them', () => {
    const event = { id: '', type: 'X', schemaVersion: 1, data: {}, dataJson: '{}', metadata: {}, metadataJson: '{}', correlationId: 'c', causationId: null };
    const prepared: PreparedAppend = { streamId: 'big-1', expected: 'any', events: new Array(MAX_EVENTS_PER_TRANSACTION + 1).fill(event) };
    expect(() => assertAppendable(prepared)).toThrow(InvalidArgumentError);
    expect(() => assertAppendable(prepared)).toThrow(`at most ${MAX_EVENTS_PER_TRANSACTION}`);
  });

  it('treats SQL-shaped stream ids, categories, types, filters and subscription ids as data', async () => {
    const { store } = test;
    for (const [i, text] of SQL_SHAPED.entries()) {
      await store.appendToStream(`${text}-${i}`, [{ type: text, data: { i } }]);
      await store.checkpoints.store(text, BigInt(i + 1));
    }
    for (const [i, text] of SQL_SHAPED.entries()) {
      expect((await collect(store.readStream(`${text}-${i}`))).map((e) => e.type)).toEqual([text]);
      expect((await collect(store.readCategory(text))).map((e) => e.data)).toEqual([{ i }]);
      expect((await collect(store.readAll({ filter: { eventTypes: [text] } }))).map((e) => e.streamId)).toEqual([`${text}-${i}`]);
      expect((await collect(store.readAll({ filter: { streamPrefixes: [text] } }))).length).toBe(1);
      expect(await store.checkpoints.load(text)).toBe(BigInt(i + 1));
    }
    // LIKE wildcards are not wildcards here.
    expect(await collect(store.readAll({ filter: { streamPrefixes: ['%'] } }))).toEqual([]);
    expect(await collect(store.readCategory('_'))).toEqual([]);
    // Text no store can keep is refused in filters too (core's one rule): it could only match nothing,
    // or — half a surrogate pair, sent as U+FFFD — the wrong streams.
    await expect(collect(store.readAll({ filter: { eventTypes: ['\u0000'], streamPrefixes: ['a\u0000'] } }))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => store.readCategory('\u0000')).toThrow(InvalidArgumentError);
  });

  it('works in a schema whose name needs quoting', async () => {
    const odd = await openTestStore({ schema: `el "odd" 'sch'; -- ${process.pid}` });
    try {
      const seen: string[] = [];
      const subscription = odd.store.subscribe({ handler: (e) => void seen.push(e.streamId) });
      await odd.store.appendToStream('quoted-1', [{ type: 'X', data: {} }]);
      await subscription.waitFor(await odd.store.headPosition(), 10_000);
      await subscription.stop();
      expect(seen).toEqual(['quoted-1']);
      await odd.store.deleteStream('quoted-1', { hard: true });
      expect(await collect(odd.store.readAll())).toEqual([]);
    } finally {
      await odd.cleanup();
    }
  });

  it('fails a read still being iterated with StoreClosedError once the store is closed', async () => {
    const closing = await openTestStore();
    try {
      await closing.store.appendToStream('page-1', Array.from({ length: 5 }, () => ({ type: 'X', data: {} })));
      const iterator = closing.store.readStream('page-1', { batchSize: 2 })[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      expect((await iterator.next()).done).toBe(false);
      await closing.store.close();
      await expect(iterator.next()).rejects.toBeInstanceOf(StoreClosedError);
      await expect(closing.store.appendToStream('page-1', [{ type: 'X', data: {} }])).rejects.toBeInstanceOf(StoreClosedError);
    } finally {
      await closing.cleanup();
    }
  });

  it('refuses schema and tenant names PostgreSQL would cut or misread', async () => {
    await expect(openTestStore({ schema: 'x'.repeat(49) })).rejects.toThrow(/is 49 bytes long; the limit is 48/);
    await expect(openTestStore({ schema: 'a\u0000b' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(openTestStore({ tenantId: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(openTestStore({ poolSize: 0 })).rejects.toThrow(/poolSize/);
  });
});
