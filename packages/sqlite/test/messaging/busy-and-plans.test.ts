/**
 * The SQLite transport under another connection's write lock (waited out on timers, then a typed
 * StoreBusyError, nothing written), and the query plans that keep claims cheap as the table grows.
 */
import Database from 'better-sqlite3';
import { StoreBusyError } from '@eventloom/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteTransport, type SqliteTransport } from '../../src/index.js';
import * as sql from '../../src/messaging/queue-sql.js';
import { tempFile, type TempFile } from '../temp-file.js';

describe('SQLite transport under lock contention', () => {
  let file: TempFile;
  let transport: SqliteTransport;
  let holder: Database.Database;

  beforeEach(() => {
    file = tempFile();
    transport = openSqliteTransport({ filename: file.filename, busyTimeoutMs: 400 });
    holder = new Database(file.filename);
  });
  afterEach(async () => {
    if (holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    await transport.close();
    file.remove();
  });

  it('waits for the write lock without blocking the event loop, and sends once it is free', async () => {
    holder.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 10);
    const sending = transport.send('contended', { type: 'Ping', data: {} });
    setTimeout(() => holder.exec('COMMIT'), 150);
    await expect(sending).resolves.toHaveLength(1);
    clearInterval(ticking);
    expect(ticks).toBeGreaterThan(5);
    expect(holder.prepare("SELECT count(*) FROM queue_messages WHERE destination = 'contended'").pluck().get()).toBe(1);
  });

  it('fails with StoreBusyError after busyTimeoutMs, having written nothing', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const error = await transport.send('contended', { type: 'Ping', data: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreBusyError);
    expect((error as StoreBusyError).code).toBe('STORE_BUSY');
    holder.exec('ROLLBACK');
    expect(holder.prepare('SELECT count(*) FROM queue_messages').pluck().get()).toBe(0);
  });
});

describe('SQLite transport query plans', () => {
  let file: TempFile;
  let transport: SqliteTransport;
  beforeEach(() => {
    file = tempFile();
    transport = openSqliteTransport({ filename: file.filename });
  });
  afterEach(async () => {
    await transport.close();
    file.remove();
  });

  const params = { destination: 'q', group: '', now: 0, owner: 'o', until: 0, max: 100 };
  const plan = (text: string): string[] =>
    (transport.database.prepare(`EXPLAIN QUERY PLAN ${text}`).all(params) as { detail: string }[]).map((row) => row.detail);

  it('claims by index range on the ready time, with no table scan and no sort, after ANALYZE on a grown table too', async () => {
    const check = (): void => {
      for (const text of [sql.CLAIM, sql.ANY_CLAIMABLE, sql.NEXT_AVAILABLE]) {
        const details = plan(text);
        expect(details.some((d) => /USING (COVERING )?INDEX queue_messages_ready/.test(d)), details.join('\n')).toBe(true);
        expect(details.filter((d) => /^SCAN |USE TEMP B-TREE/.test(d)), details.join('\n')).toEqual([]);
      }
    };
    check();
    // A table that grew, with statistics: the planner must not switch to a scan.
    await transport.send(
      'other',
      Array.from({ length: 1_000 }, (_, i) => ({ type: 'Ping', data: { i }, ...(i % 2 === 0 && { partitionKey: `k${i % 7}` }) })),
    );
    transport.database.exec('ANALYZE');
    check();
  });
});
