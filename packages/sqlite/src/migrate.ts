/** Applies the pending migrations of `sql/migrations.ts`, each once, each in its own transaction. */
import { InvalidArgumentError, StoreBusyError, StoreUnavailableError } from '@eventloom/core';
import { isBusy } from './busy.js';
import type { SqliteDatabase } from './open-database.js';
import { storeError } from './sqlite-errors.js';
import { CREATE_MIGRATIONS_TABLE, CURRENT_SCHEMA_VERSION, MIGRATIONS, RECORD_MIGRATION, type Migration } from './sql/migrations.js';

/** The schema version this code writes and understands. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/**
 * Brings the file's schema up to `migrations`' last version and returns the versions applied now.
 * Another process may migrate the same file at the same time: the write lock (BEGIN IMMEDIATE)
 * and a second look at the version inside it keep each migration to one application. An
 * up-to-date file is only read: opening it takes no write lock.
 * @throws StoreUnavailableError when the file was migrated by newer code than this.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS, now: () => Date = () => new Date()): number[] {
  try {
    return applyMigrations(db, migrations, now);
  } catch (error) {
    throw migrationError(db, error, 'migrating the event tables');
  }
}

function applyMigrations(db: SqliteDatabase, migrations: readonly Migration[], now: () => Date): number[] {
  assertOrdered(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const found = recordedSchemaVersion(db);
  assertNotNewer(db.name, found, latest);
  if (found === latest) return [];
  const applied: number[] = [];
  inTransaction(db, () => db.exec(CREATE_MIGRATIONS_TABLE));
  const current = db.prepare<[], number>(CURRENT_SCHEMA_VERSION).pluck();
  assertNotNewer(db.name, current.get()!, latest);
  for (const migration of migrations) {
    inTransaction(db, () => {
      const version = current.get()!;
      assertNotNewer(db.name, version, latest);
      if (version >= migration.version) return;
      db.exec(migration.sql);
      db.prepare(RECORD_MIGRATION).run(migration.version, migration.name, now().toISOString());
      applied.push(migration.version);
    });
  }
  return applied;
}

export function schemaVersion(db: SqliteDatabase): number {
  try {
    return db.prepare<[], number>(CURRENT_SCHEMA_VERSION).pluck().get()!;
  } catch (error) {
    throw storeError(error, 'reading the schema version', 'nothing', db.name);
  }
}

/** A failed migration as a typed error; SQLite waited for the lock as long as the connection's busy_timeout. */
export function migrationError(db: SqliteDatabase, error: unknown, doing: string): unknown {
  if (isBusy(error)) {
    const waited = db.open ? (db.pragma('busy_timeout', { simple: true }) as number) : 0;
    return new StoreBusyError(`${doing.charAt(0).toUpperCase()}${doing.slice(1)} of ${db.name}`, waited, { cause: error });
  }
  return storeError(error, doing, 'nothing', db.name);
}

/** The file's schema version by reading alone (0 for a new file): safe before anything is changed. */
export function recordedSchemaVersion(db: SqliteDatabase): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").pluck().get();
  return exists === undefined ? 0 : schemaVersion(db);
}

/** Refuses a file written by newer code before anything in it is changed (even its journal mode). */
export function assertSchemaNotNewer(db: SqliteDatabase, latest = LATEST_SCHEMA_VERSION): void {
  assertNotNewer(db.name, recordedSchemaVersion(db), latest);
}

function inTransaction(db: SqliteDatabase, work: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function assertNotNewer(filename: string, version: number, latest: number): void {
  if (version > latest) {
    throw new StoreUnavailableError(
      `The SQLite file ${filename} has schema version ${version}, newer than the ${latest} this @eventloom/sqlite knows; ` +
        'upgrade @eventloom/sqlite to open it (nothing was changed)',
    );
  }
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((migration, i) => {
    if (migration.version !== i + 1) {
      throw new InvalidArgumentError('migrations', `${migration.name} has version ${migration.version}; versions must run 1, 2, 3… without gaps`);
    }
  });
}
