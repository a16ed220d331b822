/**
 * The schema, as an ordered list of migrations. Each is applied once, in its own transaction, and
 * recorded in `schema_migrations`; never edit a released one, append a new one instead.
 */

export interface Migration {
  /** 1, 2, 3…: contiguous, in the order they are applied. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at TEXT    NOT NULL
)`;

export const CURRENT_SCHEMA_VERSION = `SELECT coalesce(max(version), 0) FROM schema_migrations`;

export const RECORD_MIGRATION = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, streams, checkpoints, snapshots',
    sql: `
-- The global log. position is the rowid: assigned in commit order, since SQLite has one writer.
CREATE TABLE events (
  position       INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  stream_id      TEXT    NOT NULL,
  -- What stands before the first '-' of stream_id, so a category reads through an index in log order.
  category       TEXT    NOT NULL,
  stream_version INTEGER NOT NULL,
  type           TEXT    NOT NULL,
  schema_version INTEGER NOT NULL,
  data           TEXT    NOT NULL, -- JSON
  metadata       TEXT    NOT NULL, -- JSON
  correlation_id TEXT    NOT NULL,
  causation_id   TEXT,
  time           TEXT    NOT NULL, -- ISO 8601, UTC, milliseconds: sorts as text
  source         TEXT    NOT NULL,
  UNIQUE (stream_id, stream_version)
);
-- Every index ends with the rowid, so both read a type or a category in position order.
CREATE INDEX events_by_type ON events (type);
CREATE INDEX events_by_category ON events (category);

CREATE TABLE streams (
  stream_id    TEXT    PRIMARY KEY,
  version      INTEGER NOT NULL DEFAULT 0,
  metadata     TEXT    NOT NULL DEFAULT '{}', -- JSON, truncateBefore as a string
  soft_deleted INTEGER NOT NULL DEFAULT 0,
  tombstoned   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Readers of the log skip tombstoned streams; this keeps finding them cheap when there are few.
CREATE INDEX streams_tombstoned ON streams (stream_id) WHERE tombstoned = 1;

CREATE TABLE checkpoints (
  subscription_id TEXT    PRIMARY KEY,
  position        INTEGER NOT NULL,
  updated_at      TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE snapshots (
  stream_id      TEXT    PRIMARY KEY,
  version        INTEGER NOT NULL,
  schema_version INTEGER NOT NULL,
  state          TEXT    NOT NULL, -- JSON
  time           TEXT    NOT NULL
) WITHOUT ROWID;
`,
  },
];
