/**
 * The read-model tables in the store's schema: documents (jsonb), per-projection bookkeeping
 * (checkpoint, failure), the serving version of each name, leases and dead letters. Versioned in
 * `read_model_migrations`, apart from the event store's own `schema_migrations`. Every row belongs
 * to one tenant (migration 2): the store's statements run as the schema's ordinary role with the
 * tenant set, and forced row-level security shows them that tenant's rows only.
 */
import { TENANT_SETTING } from '../sql/tables.js';
import { indexesSql } from './index-sql.js';

export interface ReadModelMigration {
  readonly version: number;
  readonly name: string;
  /** SQL for the schema `s` (quoted). */
  readonly sql: (s: string) => string;
}

/** The tables that hold one tenant's rows each, with the primary key each gets in migration 2. */
const TENANT_TABLES: readonly [table: string, key: string][] = [
  ['rm_documents', 'tenant_id, namespace, collection, id'],
  ['rm_projections', 'tenant_id, namespace'],
  ['rm_active', 'tenant_id, name'],
  ['rm_leases', 'tenant_id, key'],
  ['rm_dead_letters', 'id'],
];

/**
 * Only the session's tenant's rows exist, for the table owner too (FORCE); a session without a
 * tenant sees none and can write none (the setting is read with missing_ok, so it is NULL there).
 */
function tenantScope(s: string, table: string, key: string): string {
  return `
-- Rows written before tenants are the default tenant's.
ALTER TABLE ${s}.${table} ADD COLUMN tenant_id text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE ${s}.${table} ALTER COLUMN tenant_id SET DEFAULT current_setting('${TENANT_SETTING}', true);
${key === 'id' ? '' : `ALTER TABLE ${s}.${table} DROP CONSTRAINT ${table}_pkey, ADD CONSTRAINT ${table}_pkey PRIMARY KEY (${key});`}
ALTER TABLE ${s}.${table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.${table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${s}.${table}
  USING (tenant_id = current_setting('${TENANT_SETTING}', true))
  WITH CHECK (tenant_id = current_setting('${TENANT_SETTING}', true));`;
}

export const READ_MODEL_MIGRATIONS: readonly ReadModelMigration[] = [
  {
    version: 1,
    name: 'documents, projections, active versions, leases, dead letters',
    sql: (s) => `
-- Documents of every projection version: namespace is 'name@version'. Ids sort byte-wise ("C"), as in the other stores.
CREATE TABLE ${s}.rm_documents (
  namespace  text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  data       jsonb NOT NULL,
  PRIMARY KEY (namespace, collection, id)
);

-- One row per projection version; the checkpoint is written in the same transaction as its read model.
CREATE TABLE ${s}.rm_projections (
  namespace  text COLLATE "C" PRIMARY KEY,
  name       text COLLATE "C" NOT NULL,
  version    integer NOT NULL,
  checkpoint bigint,          -- NULL before the first event
  failure    jsonb,           -- the failure that stopped it, until the event is applied
  updated_at text NOT NULL    -- ISO time, as the store's clock gave it
);

-- The version readers see, per projection name.
CREATE TABLE ${s}.rm_active (
  name        text COLLATE "C" PRIMARY KEY,
  version     integer NOT NULL,
  switched_at text NOT NULL
);

-- One runner per projection version across processes; expiry on the server's clock, which every process shares.
CREATE TABLE ${s}.rm_leases (
  key        text COLLATE "C" PRIMARY KEY,
  owner      text NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE TABLE ${s}.rm_dead_letters (
  id          bigserial PRIMARY KEY,
  namespace   text COLLATE "C" NOT NULL,
  position    bigint NOT NULL,
  event_id    text NOT NULL,
  event_type  text NOT NULL,
  stream_id   text NOT NULL,
  error       text NOT NULL,
  attempts    integer NOT NULL,
  recorded_at text NOT NULL
);
CREATE INDEX rm_dead_letters_by_namespace ON ${s}.rm_dead_letters (namespace, id);
`,
  },
  {
    version: 2,
    name: 'tenants: every row belongs to one tenant, kept apart by forced row-level security',
    sql: (s) => `${TENANT_TABLES.map(([table, key]) => tenantScope(s, table, key)).join('\n')}
DROP INDEX ${s}.rm_dead_letters_by_namespace;
CREATE INDEX rm_dead_letters_by_namespace ON ${s}.rm_dead_letters (tenant_id, namespace, id);
`,
  },
  {
    version: 3,
    name: 'queries: field functions for expression indexes, declared indexes; each tenant\'s wake-up channel',
    sql: (s) => `${indexesSql(s)}
-- The LISTEN/NOTIFY channel of each tenant's checkpoints: random, so that only who can read this row can listen.
CREATE TABLE ${s}.rm_channels (
  tenant_id text COLLATE "C" NOT NULL DEFAULT current_setting('${TENANT_SETTING}', true),
  channel   text NOT NULL,
  CONSTRAINT rm_channels_pkey PRIMARY KEY (tenant_id)
);
ALTER TABLE ${s}.rm_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.rm_channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${s}.rm_channels
  USING (tenant_id = current_setting('${TENANT_SETTING}', true))
  WITH CHECK (tenant_id = current_setting('${TENANT_SETTING}', true));
`,
  },
];

export const LATEST_READ_MODEL_SCHEMA_VERSION = READ_MODEL_MIGRATIONS.at(-1)!.version;

/** Every statement of the store, for one schema. */
export function readModelQueries(s: string) {
  const projectionColumns = 'namespace, name, version, checkpoint::text AS checkpoint, failure, updated_at';
  const deadLetterColumns = 'namespace, position::text AS position, event_id, event_type, stream_id, error, attempts, recorded_at';
  return {
    getDocument: `SELECT data FROM ${s}.rm_documents WHERE namespace = $1 AND collection = $2 AND id = $3`,
    upsertDocument: `INSERT INTO ${s}.rm_documents (namespace, collection, id, data) VALUES ($1, $2, $3, $4::jsonb)
      ON CONFLICT (tenant_id, namespace, collection, id) DO UPDATE SET data = excluded.data`,
    deleteDocument: `DELETE FROM ${s}.rm_documents WHERE namespace = $1 AND collection = $2 AND id = $3`,
    deleteNamespaceDocuments: `DELETE FROM ${s}.rm_documents WHERE namespace = $1`,
    documents: `${s}.rm_documents`,
    getState: `SELECT ${projectionColumns} FROM ${s}.rm_projections WHERE namespace = $1`,
    /** In a writing transaction: the row stays locked until commit, so two writers of one projection take turns. */
    getStateForUpdate: `SELECT ${projectionColumns} FROM ${s}.rm_projections WHERE namespace = $1 FOR UPDATE`,
    listStates: `SELECT ${projectionColumns}, (SELECT a.version FROM ${s}.rm_active a WHERE a.name = p.name) AS active
      FROM ${s}.rm_projections p ORDER BY namespace`,
    createState: `INSERT INTO ${s}.rm_projections (namespace, name, version, checkpoint, failure, updated_at) VALUES ($1, $2, $3, NULL, NULL, $4)
      ON CONFLICT (tenant_id, namespace) DO UPDATE SET checkpoint = NULL, failure = NULL, updated_at = excluded.updated_at`,
    setCheckpoint: `UPDATE ${s}.rm_projections SET checkpoint = $1::bigint, updated_at = $2 WHERE namespace = $3`,
    setFailure: `UPDATE ${s}.rm_projections SET failure = $1::jsonb, updated_at = $2 WHERE namespace = $3`,
    /** The same, telling waiters on channel $4 once it commits (NOTIFY is delivered at commit, or never). */
    setCheckpointNotify: `UPDATE ${s}.rm_projections SET checkpoint = $1::bigint, updated_at = $2 WHERE namespace = $3 RETURNING pg_notify($4, NULL)`,
    setFailureNotify: `UPDATE ${s}.rm_projections SET failure = $1::jsonb, updated_at = $2 WHERE namespace = $3 RETURNING pg_notify($4, NULL)`,
    setActiveNotify: `INSERT INTO ${s}.rm_active (name, version, switched_at) VALUES ($1, $2, $3)
      ON CONFLICT (tenant_id, name) DO UPDATE SET version = excluded.version, switched_at = excluded.switched_at RETURNING pg_notify($4, NULL)`,
    /** The tenant's channel, made on first use. */
    openChannel: `WITH made AS (
        INSERT INTO ${s}.rm_channels (channel) VALUES ('rm_' || md5(gen_random_uuid()::text)) ON CONFLICT (tenant_id) DO NOTHING RETURNING channel)
      SELECT channel FROM made UNION ALL SELECT channel FROM ${s}.rm_channels`,
    /** Where version $2 of $1 (or its serving version, when $2 is NULL) stands. */
    waitState: `SELECT t.ns AS namespace, p.checkpoint::text AS checkpoint, p.failure
      FROM (SELECT CASE WHEN $2::integer IS NULL THEN (SELECT $1 || '@' || a.version FROM ${s}.rm_active a WHERE a.name = $1)
                        ELSE $1 || '@' || $2::integer END AS ns) t
      LEFT JOIN ${s}.rm_projections p ON p.namespace = t.ns`,
    createIndexes: `SELECT ${s}.rm_create_index($1, u.collection, u.name, string_to_array(u.fields, ','))
      FROM unnest($2::text[], $3::text[], $4::text[]) AS u(collection, name, fields)`,
    dropIndexes: `SELECT ${s}.rm_drop_indexes($1)`,
    deleteState: `DELETE FROM ${s}.rm_projections WHERE namespace = $1`,
    getActive: `SELECT version FROM ${s}.rm_active WHERE name = $1`,
    setActive: `INSERT INTO ${s}.rm_active (name, version, switched_at) VALUES ($1, $2, $3)
      ON CONFLICT (tenant_id, name) DO UPDATE SET version = excluded.version, switched_at = excluded.switched_at`,
    /** Takes the lease when free, expired or already ours; a row comes back when it did. */
    acquireLease: `INSERT INTO ${s}.rm_leases (key, owner, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
      ON CONFLICT (tenant_id, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE ${s}.rm_leases.owner = excluded.owner OR ${s}.rm_leases.expires_at <= clock_timestamp()
      RETURNING 1`,
    releaseLease: `DELETE FROM ${s}.rm_leases WHERE key = $1 AND owner = $2`,
    insertDeadLetter: `INSERT INTO ${s}.rm_dead_letters (namespace, position, event_id, event_type, stream_id, error, attempts, recorded_at)
      VALUES ($1, $2::bigint, $3, $4, $5, $6, $7, $8)`,
    listDeadLetters: `SELECT ${deadLetterColumns} FROM ${s}.rm_dead_letters ORDER BY id`,
    listNamespaceDeadLetters: `SELECT ${deadLetterColumns} FROM ${s}.rm_dead_letters WHERE namespace = $1 ORDER BY id`,
    /** Tables a projection made for its own SQL are named '<namespace>/<table>'. */
    namespaceTables: `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND left(tablename, $2) = $3`,
  };
}

export type ReadModelQueries = ReturnType<typeof readModelQueries>;
