/**
 * Brings the read-model tables up to date: each migration once, in one transaction under an
 * advisory lock, so that processes opening the store at the same time take turns. Also makes sure
 * the schema's ordinary role (the event store's, `<schema>_app`) exists and may use the tables:
 * the store's statements run as that role, so that row-level security applies to them.
 */
import { StoreUnavailableError } from '@eventloom/core';
import { MigrationPlan, runMigrationsAsync } from '@eventloom/core/adapter';
import type pg from 'pg';
import { ensureRole } from '../migrate.js';
import { namesFor, quoteIdent } from '../names.js';
import { fieldFunctions } from './index-sql.js';
import { READ_MODEL_MIGRATIONS } from './sql.js';

/** Returns the versions this call applied. */
export async function migrateReadModels(client: pg.ClientBase, schema: string, now: () => Date = () => new Date()): Promise<number[]> {
  const s = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`eventloom.read-models.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.read_model_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at text NOT NULL
    )`);
    const plan = new MigrationPlan(
      READ_MODEL_MIGRATIONS,
      (version, latest) =>
        new StoreUnavailableError(
          `The read models in schema ${schema} have schema version ${version}, newer than the ${latest} this @eventloom/postgres knows; upgrade it to open them (nothing was changed)`,
        ),
    );
    const { rows } = await client.query<{ version: number }>(`SELECT coalesce(max(version), 0)::integer AS version FROM ${s}.read_model_migrations`);
    const current = rows[0]!.version;
    // One transaction under the advisory lock: the steps are part of it, and nobody else migrates meanwhile.
    const applied = await runMigrationsAsync(plan, {
      found: async () => current,
      step: (work) => work(),
      current: async () => current,
      apply: async (migration) => {
        await client.query(migration.sql(s));
        await client.query(`INSERT INTO ${s}.read_model_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [
          migration.version,
          migration.name,
          now().toISOString(),
        ]);
      },
    });
    const names = namesFor(schema);
    await ensureRole(client, names);
    // CREATE: projections make their own tables (handle.table) in their transactions, as this role.
    await client.query(`
      GRANT USAGE, CREATE ON SCHEMA ${s} TO ${names.qrole};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.rm_documents, ${s}.rm_projections, ${s}.rm_active, ${s}.rm_leases, ${s}.rm_dead_letters TO ${names.qrole};
      GRANT USAGE ON SEQUENCE ${s}.rm_dead_letters_id_seq TO ${names.qrole};
      GRANT SELECT ON ${s}.rm_indexes TO ${names.qrole};
      GRANT SELECT, INSERT ON ${s}.rm_channels TO ${names.qrole};
      GRANT EXECUTE ON FUNCTION ${[...fieldFunctions(s), `${s}.rm_create_index(text, text, text, text[])`, `${s}.rm_drop_indexes(text)`].join(', ')} TO ${names.qrole};`);
    await markLeakproof(client, s);
    // Projections' own tables made before the store ran as that role: it must own them to drop them in a rebuild.
    const { rows: tables } = await client.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND position('/' in tablename) > 0 AND tableowner <> $2`,
      [schema, names.role],
    );
    for (const { tablename } of tables) await client.query(`ALTER TABLE ${s}.${quoteIdent(tablename)} OWNER TO ${names.qrole}`);
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Lets queries use declared indexes under row-level security: PostgreSQL takes only leakproof
 * conditions as index conditions there, and only a superuser may say a function is. Without it
 * queries answer the same, scanning the collection.
 */
async function markLeakproof(client: pg.ClientBase, s: string): Promise<void> {
  const { rows } = await client.query<{ superuser: boolean; leakproof: boolean }>(
    `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       coalesce(bool_and(proleakproof), false) AS leakproof
     FROM pg_proc WHERE oid = ANY (ARRAY[${fieldFunctions(s).map((f) => `'${f.replaceAll("'", "''")}'::regprocedure`).join(', ')}])`,
  );
  if (!rows[0]!.superuser || rows[0]!.leakproof) return;
  for (const fn of fieldFunctions(s)) await client.query(`ALTER FUNCTION ${fn} LEAKPROOF`);
}
