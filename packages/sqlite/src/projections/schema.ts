/** Brings the read-model tables up to date: each migration once, under the write lock, even with several processes. */
import { StoreUnavailableError } from '@eventloom/core';
import { MigrationPlan, runMigrations } from '@eventloom/core/adapter';
import { migrationError } from '../migrate.js';
import { withOpeningWait, type SqliteDatabase } from '../open-database.js';
import { CREATE_MIGRATIONS_TABLE, CURRENT_VERSION, READ_MODEL_MIGRATIONS, RECORD_MIGRATION, type ReadModelMigration } from './sql.js';

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
  const plan = readModelPlan(db);
  // Up to date: only read, no write lock, no wait.
  const found = recordedReadModelVersion(db);
  if (plan.pending(found).length === 0) return [];
  const inTransaction = (work: () => void): void => db.transaction(work).immediate();
  return withOpeningWait(db, () =>
    runMigrations(plan, {
      found: () => found,
      begin: () => inTransaction(() => db.exec(CREATE_MIGRATIONS_TABLE)),
      step: inTransaction,
      current: () => db.prepare<[], number>(CURRENT_VERSION).pluck().get()!,
      apply: (migration) => {
        db.exec(migration.sql);
        db.prepare(RECORD_MIGRATION).run(migration.version, migration.name, now().toISOString());
      },
    }),
  );
}

/** The read models' schema version by reading alone (0 when they were never created). */
export function recordedReadModelVersion(db: SqliteDatabase): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'read_model_migrations'").pluck().get();
  return exists === undefined ? 0 : db.prepare<[], number>(CURRENT_VERSION).pluck().get()!;
}

export function assertNotNewer(db: SqliteDatabase, version: number): void {
  readModelPlan(db).assertNotNewer(version);
}

function readModelPlan(db: SqliteDatabase): MigrationPlan<ReadModelMigration> {
  return new MigrationPlan(
    READ_MODEL_MIGRATIONS,
    (version, latest) =>
      new StoreUnavailableError(
        `The read models in ${db.name} have schema version ${version}, newer than the ${latest} this @eventloom/sqlite knows; upgrade it to open them (nothing was changed)`,
      ),
  );
}
