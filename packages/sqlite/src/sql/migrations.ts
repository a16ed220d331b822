/**
 * The schema, as an ordered list of migrations. Each is applied once, in its own transaction, and
 * recorded in `schema_migrations`; never edit a released one, append a new one instead.
 */

import { OUTBOX_INBOX_MIGRATION_SQL } from '../messaging/outbox-sql.js';

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
  {
    version: 2,
    name: 'message queues, topic groups, queue dead letters',
    sql: `
-- Messages of the SQLite transport waiting for their consumer: one row per queue message, and one
-- per topic message and group. Times are ms since 1970 on this machine's clock (the processes
-- sharing a file share one machine). seq orders rows by when they were stored.
CREATE TABLE queue_messages (
  seq             INTEGER PRIMARY KEY,
  destination     TEXT    NOT NULL, -- the queue, or the topic
  group_name      TEXT    NOT NULL, -- '' on a queue, the group on a topic
  id              TEXT    NOT NULL,
  partition_key   TEXT,
  visible_at      INTEGER NOT NULL, -- not delivered before (deliverAt, a retry's delay)
  attempts        INTEGER NOT NULL DEFAULT 0, -- deliveries so far
  lease_owner     TEXT,             -- the receiver that holds it
  lease_until     INTEGER NOT NULL DEFAULT 0,
  first_failed_at TEXT,
  last_error      TEXT,
  envelope        TEXT    NOT NULL  -- JSON
);
-- A message can be claimed once max(visible_at, lease_until) has passed: claims read this index
-- from its start, so delayed and leased messages cost nothing however many there are.
CREATE INDEX queue_messages_ready ON queue_messages (destination, group_name, max(visible_at, lease_until), seq);
-- Per-key order: the earlier messages of a key, and the ones of a key leased or waiting for a retry.
CREATE INDEX queue_messages_key_order ON queue_messages (destination, group_name, partition_key, seq) WHERE partition_key IS NOT NULL;
CREATE INDEX queue_messages_key_busy ON queue_messages (destination, group_name, partition_key, max(visible_at, lease_until))
  WHERE partition_key IS NOT NULL;
-- cancelScheduled finds a message by its id.
CREATE INDEX queue_messages_id ON queue_messages (id);

-- A topic's groups: a message published to the topic is stored once for each.
CREATE TABLE queue_topic_groups (
  topic      TEXT NOT NULL,
  group_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (topic, group_name)
) WITHOUT ROWID;

CREATE TABLE queue_dead_letters (
  seq             INTEGER PRIMARY KEY,
  id              TEXT    NOT NULL UNIQUE,
  destination     TEXT    NOT NULL,
  group_name      TEXT    NOT NULL,
  consumer        TEXT    NOT NULL,
  type            TEXT,             -- the message's type; NULL when it could not be decoded
  message         TEXT,             -- the envelope, JSON
  raw             TEXT,             -- {headers, body} JSON, when it could not be decoded
  reason          TEXT    NOT NULL,
  error           TEXT    NOT NULL,
  stack           TEXT,
  attempts        INTEGER NOT NULL,
  first_failed_at TEXT    NOT NULL,
  last_failed_at  TEXT    NOT NULL
);
CREATE INDEX queue_dead_letters_by_source ON queue_dead_letters (destination, group_name);
`,
  },
  {
    version: 3,
    name: 'outbox messages, outbox relays, inbox records',
    sql: OUTBOX_INBOX_MIGRATION_SQL,
  },
  {
    version: 4,
    name: 'events: rarely-set envelope parts in one envelope column',
    sql: `
-- A read pays for every column it fetches. schema_version, metadata, correlation_id, causation_id
-- and source are at their defaults (1, {}, the event's own id, NULL, 'eventloom') for most events:
-- they move into one column, NULL when all five are defaults, else the JSON array
-- [schema_version, metadata, correlation_id, causation_id, source] (event-row.ts reads it).
-- The metadata text is spliced in as it is, so text that did not parse before does not now: the
-- read of that event still reports the file damaged, and the migration itself does not fail.
CREATE TABLE events_v4 (
  position       INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  stream_id      TEXT    NOT NULL,
  category       TEXT    NOT NULL,
  stream_version INTEGER NOT NULL,
  type           TEXT    NOT NULL,
  data           TEXT    NOT NULL, -- JSON
  time           TEXT    NOT NULL, -- ISO 8601, UTC, milliseconds: sorts as text
  envelope       TEXT,             -- JSON array, NULL for the defaults
  UNIQUE (stream_id, stream_version)
);
INSERT INTO events_v4 (position, id, stream_id, category, stream_version, type, data, time, envelope)
SELECT position, id, stream_id, category, stream_version, type, data, time,
       CASE WHEN schema_version = 1 AND metadata = '{}' AND correlation_id = id AND causation_id IS NULL AND source = 'eventloom'
            THEN NULL
            ELSE '[' || schema_version || ',' || metadata || ',' || json_quote(correlation_id) || ',' || json_quote(causation_id) || ',' || json_quote(source) || ']'
       END
FROM events ORDER BY position;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_by_type ON events (type);
CREATE INDEX events_by_category ON events (category);
`,
  },
];
