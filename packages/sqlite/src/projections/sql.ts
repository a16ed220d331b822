/**
 * The read-model tables, kept in the same file as the events: documents, per-projection
 * bookkeeping (checkpoint, failure), the serving version of each name, leases and dead letters.
 * Migrations are versioned in `read_model_migrations`, apart from the event store's own.
 */

export interface ReadModelMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS read_model_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at TEXT    NOT NULL
)`;

export const CURRENT_VERSION = `SELECT coalesce(max(version), 0) FROM read_model_migrations`;
export const RECORD_MIGRATION = `INSERT INTO read_model_migrations (version, name, applied_at) VALUES (?, ?, ?)`;

export const READ_MODEL_MIGRATIONS: readonly ReadModelMigration[] = [
  {
    version: 1,
    name: 'documents, projections, active versions, leases, dead letters',
    sql: `
-- Documents of every projection version: namespace is 'name@version'.
CREATE TABLE rm_documents (
  namespace  TEXT NOT NULL,
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       TEXT NOT NULL, -- JSON object
  PRIMARY KEY (namespace, collection, id)
) WITHOUT ROWID;

-- One row per projection version; checkpoint is written in the same transaction as its read model.
CREATE TABLE rm_projections (
  namespace  TEXT    PRIMARY KEY,
  name       TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  checkpoint INTEGER,          -- NULL before the first event
  failure    TEXT,             -- JSON of the failure that stopped it, until the event is applied
  updated_at TEXT    NOT NULL
) WITHOUT ROWID;

-- The version readers see, per projection name.
CREATE TABLE rm_active (
  name        TEXT    PRIMARY KEY,
  version     INTEGER NOT NULL,
  switched_at TEXT    NOT NULL
) WITHOUT ROWID;

-- One runner per projection version across processes: the owner renews before expires_at (ms).
CREATE TABLE rm_leases (
  key        TEXT    PRIMARY KEY,
  owner      TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE rm_dead_letters (
  id          INTEGER PRIMARY KEY,
  namespace   TEXT    NOT NULL,
  position    INTEGER NOT NULL,
  event_id    TEXT    NOT NULL,
  event_type  TEXT    NOT NULL,
  stream_id   TEXT    NOT NULL,
  error       TEXT    NOT NULL,
  attempts    INTEGER NOT NULL,
  recorded_at TEXT    NOT NULL
);
CREATE INDEX rm_dead_letters_by_namespace ON rm_dead_letters (namespace, id);
`,
  },
];

export const GET_DOCUMENT = `SELECT data FROM rm_documents WHERE namespace = ? AND collection = ? AND id = ?`;
export const UPSERT_DOCUMENT = `
INSERT INTO rm_documents (namespace, collection, id, data) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, collection, id) DO UPDATE SET data = excluded.data`;
/** `rows` documents in one statement (an id appears once per flush, so no row meets another of the same statement). */
export function upsertDocumentsSql(rows: number): string {
  return `INSERT INTO rm_documents (namespace, collection, id, data) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')}
ON CONFLICT (namespace, collection, id) DO UPDATE SET data = excluded.data`;
}
export const DELETE_DOCUMENT = `DELETE FROM rm_documents WHERE namespace = ? AND collection = ? AND id = ?`;
export const DELETE_NAMESPACE_DOCUMENTS = `DELETE FROM rm_documents WHERE namespace = ?`;

export const PROJECTION_COLUMNS = 'namespace, name, version, checkpoint, failure, updated_at';
export const GET_PROJECTION = `SELECT ${PROJECTION_COLUMNS} FROM rm_projections WHERE namespace = ?`;
export const LIST_PROJECTIONS = `
SELECT ${PROJECTION_COLUMNS}, (SELECT version FROM rm_active a WHERE a.name = p.name) AS active
FROM rm_projections p ORDER BY namespace`;
export const CREATE_PROJECTION = `
INSERT INTO rm_projections (namespace, name, version, checkpoint, failure, updated_at) VALUES (?, ?, ?, NULL, NULL, ?)
ON CONFLICT (namespace) DO UPDATE SET checkpoint = NULL, failure = NULL, updated_at = excluded.updated_at`;
export const SET_CHECKPOINT = `UPDATE rm_projections SET checkpoint = ?, updated_at = ? WHERE namespace = ?`;
export const SET_FAILURE = `UPDATE rm_projections SET failure = ?, updated_at = ? WHERE namespace = ?`;
export const DELETE_PROJECTION = `DELETE FROM rm_projections WHERE namespace = ?`;

export const GET_ACTIVE = `SELECT version FROM rm_active WHERE name = ?`;
export const SET_ACTIVE = `
INSERT INTO rm_active (name, version, switched_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET version = excluded.version, switched_at = excluded.switched_at`;

/** Takes the lease when free, expired (expires_at <= now) or already ours; `changes` says whether it did. */
export const ACQUIRE_LEASE = `
INSERT INTO rm_leases (key, owner, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE rm_leases.owner = excluded.owner OR rm_leases.expires_at <= ?`;
export const RELEASE_LEASE = `DELETE FROM rm_leases WHERE key = ? AND owner = ?`;

export const DEAD_LETTER_COLUMNS = 'namespace, position, event_id, event_type, stream_id, error, attempts, recorded_at';
export const INSERT_DEAD_LETTER = `INSERT INTO rm_dead_letters (${DEAD_LETTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
export const LIST_DEAD_LETTERS = `SELECT ${DEAD_LETTER_COLUMNS} FROM rm_dead_letters ORDER BY id`;
export const LIST_NAMESPACE_DEAD_LETTERS = `SELECT ${DEAD_LETTER_COLUMNS} FROM rm_dead_letters WHERE namespace = ? ORDER BY id`;

/** Tables a projection made for its own SQL are named '<namespace>/<table>'. */
export const NAMESPACE_TABLES = `SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?`;
/** Declared indexes on rm_documents are named '<namespace>/<collection>/<index>' (query-sql.ts). */
export const NAMESPACE_INDEXES = `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rm_documents' AND substr(name, 1, ?) = ?`;
export const INDEX_SQL = `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`;
