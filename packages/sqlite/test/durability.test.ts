/** Durability options set the pragmas they promise; another process (connection) can use the file meanwhile. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { InvalidArgumentError } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BUSY_TIMEOUT_MS, openSqliteEventStore, type Durability } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

const SYNCHRONOUS = { OFF: 0, NORMAL: 1, FULL: 2 } as const;

describe('durability', () => {
  let file: TempFile;
  afterEach(() => file.remove());

  const cases: { durability: Durability | undefined; synchronous: number; fullfsync: number }[] = [
    { durability: undefined, synchronous: SYNCHRONOUS.FULL, fullfsync: 1 },
    { durability: 'full', synchronous: SYNCHRONOUS.FULL, fullfsync: 1 },
    { durability: 'normal', synchronous: SYNCHRONOUS.NORMAL, fullfsync: 0 },
    { durability: 'off', synchronous: SYNCHRONOUS.OFF, fullfsync: 0 },
  ];
  for (const c of cases) {
    it(`${c.durability ?? 'default'}: WAL, synchronous=${c.synchronous}, no synchronous busy wait`, async () => {
      file = tempFile();
      const store = openSqliteEventStore({ filename: file.filename, ...(c.durability && { durability: c.durability }) });
      const db = store.database;
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(c.synchronous);
      expect(db.pragma('fullfsync', { simple: true })).toBe(c.fullfsync);
      // Waiting for other processes' locks happens on timers (up to BUSY_TIMEOUT_MS), never inside SQLite.
      expect(db.pragma('busy_timeout', { simple: true })).toBe(0);
      expect(BUSY_TIMEOUT_MS).toBe(30_000);
      await store.close();
    });
  }

  it('rejects an unknown durability without creating the file', () => {
    file = tempFile();
    expect(() => openSqliteEventStore({ filename: file.filename, durability: 'fast' as Durability })).toThrow(InvalidArgumentError);
    expect(() => openSqliteEventStore({ filename: '' })).toThrow(InvalidArgumentError);
    expect(existsSync(file.filename)).toBe(false);
  });

  it('lets another connection read and write the file while the store has it open', async () => {
    file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    await store.appendToStream('order-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    const other = new Database(file.filename);
    other.pragma('busy_timeout = 5000');
    expect(other.prepare('SELECT stream_id, stream_version FROM events').all()).toEqual([{ stream_id: 'order-1', stream_version: 1 }]);
    other.prepare('INSERT INTO checkpoints (subscription_id, position, updated_at) VALUES (?, ?, ?)').run('from-elsewhere', 1, 'now');
    expect(await store.checkpoints.load('from-elsewhere')).toBe(1n);
    other.close();
    await store.close();
  });
});
