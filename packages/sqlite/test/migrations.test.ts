/** Versioned schema migrations: a fresh file, a reopen, an upgrade, a failed migration, a file from newer code. */
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, migrate, MIGRATIONS, openSqliteEventStore, schemaVersion, type Migration } from '../src/index.js';
import { dumpTables } from './dump.js';
import { tempFile, type TempFile } from './temp-file.js';

function tables(db: Database.Database): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
}

describe('schema migrations', () => {
  let file: TempFile;
  afterEach(() => file.remove());

  it('creates the whole schema in a fresh file and records each migration once', async () => {
    file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    expect(tables(store.database)).toEqual(['checkpoints', 'events', 'inbox_records', 'outbox_messages', 'outbox_relays', 'queue_dead_letters', 'queue_messages', 'queue_topic_groups', 'schema_migrations', 'snapshots', 'streams']);
    const applied = store.database.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    expect(applied).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(schemaVersion(store.database)).toBe(LATEST_SCHEMA_VERSION);
    await store.close();
  });

  it('applies nothing again when the file is reopened, and keeps its events', async () => {
    file = tempFile();
    const first = openSqliteEventStore({ filename: file.filename });
    await first.appendToStream('order-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    const recorded = first.database.prepare('SELECT * FROM schema_migrations').all();
    await first.close();

    const db = new Database(file.filename);
    expect(migrate(db)).toEqual([]);
    expect(db.prepare('SELECT * FROM schema_migrations').all()).toEqual(recorded);
    db.close();

    const second = openSqliteEventStore({ filename: file.filename });
    expect((await second.streamInfo('order-1')).version).toBe(1n);
    await second.close();
  });

  it('upgrades a file written by older code: only the new migrations run, in order', async () => {
    file = tempFile();
    const old = openSqliteEventStore({ filename: file.filename });
    await old.appendToStream('order-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    await old.close();

    const next: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 1, name: 'order totals', sql: 'CREATE TABLE order_totals (order_id TEXT PRIMARY KEY, total REAL)' },
      { version: LATEST_SCHEMA_VERSION + 2, name: 'order totals by day', sql: 'ALTER TABLE order_totals ADD COLUMN day TEXT' },
    ];
    const db = new Database(file.filename);
    expect(migrate(db, next)).toEqual([LATEST_SCHEMA_VERSION + 1, LATEST_SCHEMA_VERSION + 2]);
    expect(db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('order_totals')).toEqual(['order_id', 'total', 'day']);
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(1);
    expect(migrate(db, next)).toEqual([]);
    db.close();
  });

  it('rolls a failing migration back whole and records nothing of it', () => {
    file = tempFile();
    const db = new Database(file.filename);
    migrate(db);
    const before = dumpTables(db);
    const broken: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 1, name: 'half done', sql: 'CREATE TABLE half (id INTEGER); INSERT INTO nowhere VALUES (1);' },
    ];
    expect(() => migrate(db, broken)).toThrow(/no such table: nowhere/);
    expect(tables(db)).not.toContain('half');
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(dumpTables(db)).toBe(before);
    db.close();
  });

  it('refuses a file migrated by newer code, saying so, and changes nothing', async () => {
    file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    await store.appendToStream('order-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    store.database.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 1, 'from the future', new Date().toISOString());
    const before = dumpTables(store.database);
    await store.close();

    let error: unknown;
    try {
      openSqliteEventStore({ filename: file.filename });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(`schema version ${LATEST_SCHEMA_VERSION + 1}, newer than the ${LATEST_SCHEMA_VERSION}`);
    expect((error as Error).message).toContain('upgrade @eventloom/sqlite');
    const db = new Database(file.filename, { readonly: true });
    expect(dumpTables(db)).toBe(before);
    db.close();
  });

  it('lets two stores open the same fresh file and share it', async () => {
    file = tempFile();
    const a = openSqliteEventStore({ filename: file.filename });
    const b = openSqliteEventStore({ filename: file.filename });
    await a.appendToStream('order-1', [{ type: 'OrderPlaced', data: { total: 1 } }]);
    await b.appendToStream('order-1', [{ type: 'OrderPaid', data: {} }], { expectedVersion: 1n });
    expect(b.database.prepare('SELECT count(*) FROM schema_migrations').pluck().get()).toBe(MIGRATIONS.length);
    expect((await a.streamInfo('order-1')).version).toBe(2n);
    await a.close();
    await b.close();
  });

  it('rejects a list of migrations with a gap before touching the file', () => {
    file = tempFile();
    const db = new Database(file.filename);
    expect(() => migrate(db, [{ ...MIGRATIONS[0]!, version: 2 }])).toThrow(/without gaps/);
    expect(tables(db)).toEqual([]);
    db.close();
  });
});
