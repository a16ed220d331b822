/** Brings the read-model tables up to date: each migration once, under the write lock, even with several processes. */
import { StoreUnavailableError } from '@eventloom/core';
import { migrationError } from '../migrate.js';
import { withOpeningWait, type SqliteDatabase } from '../open-database.js';
import { CREATE_MIGRATIONS_TABLE, CURRENT_VERSION, READ_MODEL_MIGRATIONS, RECORD_MIGRATION } from './sql.js';

export const LATEST_READ_MODEL_SCHEMA_VERSION = READ_MODEL_MIGRATIONS.at(-1)!.version;

/** Up-to-date tables are only read (no write lock); otherwise the migration may wait, bounded, for other processes. */
export function migrateReadModels(db: SqliteDatabase, now: () => Date = () => new Date()): number[] {
  try {
    return applyReadModelMigrations(db, now);
  } catch (error) {
    throw migrationError(db, error, 'creating the read-model tables');
  }
}

function applyReadModelMigrations(db: SqliteDatabase, now: () => Date): number[] {
  const found = recordedReadModelVersion(db);
  assertNotNewer(db, found);
  if (found === LATEST_READ_MODEL_SCHEMA_VERSION) return [];
  return withOpeningWait(db, () => {
    const applied: number[] = [];
    const inTransaction = (work: () => void): void => db.transaction(work).immediate();
    inTransaction(() => db.exec(CREATE_MIGRATIONS_TABLE));
    const current = db.prepare<[], number>(CURRENT_VERSION).pluck();
    for (const migration of READ_MODEL_MIGRATIONS) {
      inTransaction(() => {
        const version = current.get()!;
        assertNotNewer(db, version);
        if (version >= migration.version) return;
        db.exec(migration.sql);
        db.prepare(RECORD_MIGRATION).run(migration.version, migration.name, now().toISOString());
        applied.push(migration.version);
      });
    }
    return applied;
  });
}

/** The read models' schema version by reading alone (0 when they were never created). */
export function recordedReadModelVersion(db: SqliteDatabase): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'read_model_migrations'").pluck().get();
  return exists === undefined ? 0 : db.prepare<[], number>(CURRENT_VERSION).pluck().get()!;
}

export function assertNotNewer(db: SqliteDatabase, version: number): void {
  if (version > LATEST_READ_MODEL_SCHEMA_VERSION) {
    throw new StoreUnavailableError(
      `The read models in ${db.name} have schema version ${version}, newer than the ${LATEST_READ_MODEL_SCHEMA_VERSION} this @eventloom/sqlite knows; upgrade it to open them (nothing was changed)`,
    );
  }
}
