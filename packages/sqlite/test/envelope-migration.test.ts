/**
 * Migration 4 (the envelope column): a file written by the schema before it is converted and reads
 * back identically — every field, key order, JSON.stringify and structuredClone — and takes appends.
 */
import Database from 'better-sqlite3';
import { collect, StoreCorruptError, type RecordedEvent } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS, openSqliteEventStore, schemaVersion } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

// What version 3's code wrote and how it read it back (its INSERT and its decodeEvent).
const V3_INSERT = `INSERT INTO events (id, stream_id, category, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const V3_READ = 'SELECT position, id, stream_id, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time, source FROM events ORDER BY position';
type V3Row = [number, string, string, number, string, number, string, string, string, string | null, string, string];

function decodeV3(row: V3Row): RecordedEvent {
  return {
    id: row[1],
    type: row[4],
    schemaVersion: row[5],
    streamId: row[2],
    streamVersion: BigInt(row[3]),
    position: BigInt(row[0]),
    time: row[10],
    source: row[11],
    correlationId: row[8],
    causationId: row[9],
    data: JSON.parse(row[6]) as unknown,
    metadata: row[7] === '{}' ? {} : JSON.parse(row[7]),
  };
}

const text = (event: RecordedEvent): string => JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));

const ID = (n: number) => `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const TIME = '2026-11-30T10:00:00.000Z';

/** [stream, version, type, schemaVersion, data, metadata, correlationId, causationId, source]: every envelope part at and off its default. */
const ROWS: [string, number, string, number, string, string, string | null, string | null, string][] = [
  ['order-1', 1, 'OrderPlaced', 1, '{"total":1}', '{}', null, null, 'eventloom'],
  ['order-1', 2, 'OrderPaid', 3, '{"n":0.1,"big":1e21}', '{}', null, null, 'eventloom'],
  ['order-1', 3, 'Typed🎉é', 1, '{"k":"日本語 \\"q\\""}', '{"userId":"🎉","note":["a\\"b","\\u0001"]}', null, null, 'eventloom'],
  ['order-2', 1, 'OrderPlaced', 1, '{}', '{}', 'corr-日本', 'cause-\u{10FFFF}', 'eventloom'],
  ['order-2', 2, 'OrderPlaced', 1, '[1,2]', '{}', null, null, 'billing "eu"'],
  ['order-2', 3, 'OrderPlaced', 2, 'null', '{"tenantId":"t"}', 'c', null, 'billing'],
];

function writeVersion3File(filename: string): void {
  const db = new Database(filename);
  migrate(db, MIGRATIONS.filter((m) => m.version <= 3));
  const insert = db.prepare(V3_INSERT);
  const versions = new Map<string, number>();
  ROWS.forEach(([stream, version, type, sv, data, metadata, correlation, causation, source], i) => {
    insert.run(ID(i), stream, stream.split('-')[0], version, type, sv, data, metadata, correlation ?? ID(i), causation, TIME, source);
    versions.set(stream, version);
  });
  // A row version 3 could not read either: its metadata does not parse.
  insert.run(ID(99), 'order-3', 'order', 1, 'OrderPlaced', 1, '{}', '{broken', ID(99), null, TIME, 'eventloom');
  versions.set('order-3', 1);
  for (const [stream, version] of versions) db.prepare('INSERT INTO streams (stream_id, version) VALUES (?, ?)').run(stream, version);
  db.close();
}

describe('migration 4: the envelope column', () => {
  let file: TempFile;
  afterEach(() => file.remove());

  it('converts a file written by version 3: every event reads back as version 3 read it, and the file takes appends', async () => {
    file = tempFile();
    writeVersion3File(file.filename);
    const old = new Database(file.filename, { readonly: true });
    expect(schemaVersion(old)).toBe(3);
    const before = (old.prepare(V3_READ).raw().all() as V3Row[]).filter((row) => row[2] !== 'order-3').map(decodeV3);
    old.close();

    const store = openSqliteEventStore({ filename: file.filename });
    try {
      expect(schemaVersion(store.database)).toBe(4);
      // Only off-default envelopes are stored; the first row had none.
      expect(store.database.prepare('SELECT envelope FROM events WHERE position = 1').pluck().get()).toBeNull();
      const read = [...(await collect(store.readStream('order-1'))), ...(await collect(store.readStream('order-2')))];
      // The damaged row is the log's last: a read reaching it fails, as it did on version 3.
      const logged = await collect(store.readAll({ maxCount: ROWS.length }));
      for (const events of [read, logged]) {
        expect(events).toStrictEqual(before);
        expect(events.map(text)).toEqual(before.map(text));
        expect(events.map((event) => structuredClone(event))).toStrictEqual(before);
      }

      await expect(collect(store.readStream('order-3'))).rejects.toBeInstanceOf(StoreCorruptError);
      await expect(collect(store.readAll())).rejects.toBeInstanceOf(StoreCorruptError);
      expect(store.database.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' AND name LIKE 'events_by_%' ORDER BY name").pluck().all()).toEqual([
        'events_by_category',
        'events_by_type',
      ]);

      const appended = await store.appendToStream('order-1', [{ id: ID(50), type: 'OrderShipped', data: { at: 1 }, causationId: ID(2) }], { expectedVersion: 3n });
      expect(appended.position).toBe(BigInt(ROWS.length + 2));
      const again = await store.appendToStream('order-1', [{ id: ID(50), type: 'OrderShipped', data: { at: 1 }, causationId: ID(2) }], { expectedVersion: 3n });
      expect(again.idempotent).toBe(true);
      expect(again.events).toStrictEqual((await collect(store.readStream('order-1', { fromVersion: 4n }))));
      expect(again.events[0]).toMatchObject({ correlationId: ID(50), causationId: ID(2), source: 'eventloom', schemaVersion: 1, metadata: {} });
    } finally {
      await store.close();
    }
  });
});
