/**
 * Brings a schema up to date: versioned migrations recorded in `schema_migrations`, each applied
 * once, all in one transaction under an advisory lock so that processes opening the store at the
 * same time take turns. Also makes sure the store's ordinary role exists and may use the schema.
 */
import { InvalidArgumentError } from '@eventloom/core';
import { MigrationPlan, runMigrationsAsync } from '@eventloom/core/adapter';
import type pg from 'pg';
import type { StoreNames } from './names.js';
import { MIGRATIONS, type Migration } from './sql/migrations.js';

export interface MigrationReport {
  /** Versions applied by this call, in order; empty when the schema was up to date. */
  readonly applied: readonly number[];
  readonly version: number;
}

/**
 * Runs on `client` as the role that owns (or will own) the schema. `migrations` is for tests of
 * upgrades from older versions; leave it out.
 */
export async function migrate(
  client: pg.ClientBase,
  names: StoreNames,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationReport> {
  const { qschema } = names;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`eventloom.migrate:${names.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${qschema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${qschema}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const plan = new MigrationPlan(
      migrations,
      (newest, known) =>
        new InvalidArgumentError(
          'schema',
          `${names.schema} is at migration ${newest}, but this version of @eventloom/postgres knows migrations up to ${known}; upgrade the package`,
        ),
    );
    const { rows } = await client.query<{ version: number }>(`SELECT coalesce(max(version), 0)::integer AS version FROM ${qschema}.schema_migrations`);
    const found = rows[0]!.version;
    plan.assertNotNewer(found);
    const createdRole = await ensureRole(client, names);
    // A role made anew (dropped by someone since) needs the grants of what is already there.
    if (createdRole) for (const migration of migrations.filter((m) => m.version <= found)) await client.query(migration.grants(names));
    // One transaction under the advisory lock: the steps are part of it, and nobody else migrates meanwhile.
    const applied = await runMigrationsAsync(plan, {
      found: async () => found,
      step: (work) => work(),
      current: async () => found,
      apply: async (migration) => {
        await client.query(migration.sql(names));
        await client.query(migration.grants(names));
        await client.query(`INSERT INTO ${qschema}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      },
    });
    const known = plan.latest;
    await client.query('COMMIT');
    return { applied, version: known };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates the store's role (no login, no privileges beyond the grants) unless it exists, and lets
 * the migrating user switch to it. Returns whether it was created.
 */
export async function ensureRole(client: pg.ClientBase, { role, qrole }: StoreNames): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean; superuser: boolean; member: boolean }>(
    `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AS exists,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            pg_has_role(current_user, (SELECT oid FROM pg_roles WHERE rolname = $1), 'MEMBER') AS member`,
    [role],
  );
  const state = rows[0]!;
  let created = false;
  if (!state.exists) {
    // Roles belong to the whole cluster: another database may create the same one right now.
    await client.query('SAVEPOINT create_role');
    try {
      await client.query(`CREATE ROLE ${qrole} NOLOGIN NOSUPERUSER NOBYPASSRLS`);
      await client.query('RELEASE SAVEPOINT create_role');
      created = true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== '42710' && code !== '23505') throw error;
      await client.query('ROLLBACK TO SAVEPOINT create_role');
    }
  }
  if (!state.superuser && !state.member) await client.query(`GRANT ${qrole} TO CURRENT_USER`);
  return created;
}
