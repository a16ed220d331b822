/** Statements on the `events` table: the append's insert and the reads of one stream. */

/** Column order of every event read; `event-row.ts` decodes rows in this order. */
export const EVENT_COLUMNS =
  'position, id, stream_id, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time, source';

export const INSERT_EVENT = `
INSERT INTO events (id, stream_id, category, stream_version, type, schema_version, data, metadata,
                    correlation_id, causation_id, time, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The time of a stream's event at a version: an append never records an earlier one in the stream. */
export const EVENT_TIME = `SELECT time FROM events WHERE stream_id = ? AND stream_version = ?`;

export const FIND_EVENT_BY_ID = `SELECT stream_id, stream_version FROM events WHERE id = ?`;

/** Keyset page of a stream, oldest first: lowest version, highest version, oldest time, limit. */
export const READ_STREAM_FORWARDS = `
SELECT ${EVENT_COLUMNS} FROM events
WHERE stream_id = ? AND stream_version >= ? AND stream_version <= ? AND time >= ?
ORDER BY stream_version
LIMIT ?`;

/** Keyset page of a stream, newest first: same parameters as forwards. */
export const READ_STREAM_BACKWARDS = `
SELECT ${EVENT_COLUMNS} FROM events
WHERE stream_id = ? AND stream_version >= ? AND stream_version <= ? AND time >= ?
ORDER BY stream_version DESC
LIMIT ?`;

export const HEAD_POSITION = `SELECT coalesce(max(position), 0) FROM events`;
