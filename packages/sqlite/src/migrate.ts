/** Applies the pending migrations of `sql/migrations.ts`, each once, each in its own transaction. */
import { StoreBusyError, StoreUnavailableError } from '@eventloom/core';
import { MigrationPlan, runMigrations } from '@eventloom/core/adapter';
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
  const current = (): number => db.prepare<[], number>(CURRENT_SCHEMA_VERSION).pluck().get()!;
  return runMigrations(plan(db, migrations), {
    found: () => recordedSchemaVersion(db),
    begin: () => inTransaction(db, () => db.exec(CREATE_MIGRATIONS_TABLE)),
    step: (work) => inTransaction(db, work),
    current,
    apply: (migration) => {
      db.exec(migration.sql);
      db.prepare(RECORD_MIGRATION).run(migration.version, migration.name, now().toISOString());
    },
  });
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
export function assertSchemaNotNewer(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): void {
  plan(db, migrations).assertNotNewer(recordedSchemaVersion(db));
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

function plan(db: SqliteDatabase, migrations: readonly Migration[]): MigrationPlan<Migration> {
  return new MigrationPlan(
    migrations,
    (version, latest) =>
      new StoreUnavailableError(
        `The SQLite file ${db.name} has schema version ${version}, newer than the ${latest} this @eventloom/sqlite knows; ` +
          'upgrade @eventloom/sqlite to open it (nothing was changed)',
      ),
  );
}
