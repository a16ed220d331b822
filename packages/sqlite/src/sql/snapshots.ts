/** Statements on the `snapshots` table: the latest folded state of a stream. */

export const LOAD_SNAPSHOT = `SELECT version, schema_version, state, time FROM snapshots WHERE stream_id = ?`;

/** Keeps the newer snapshot: an older one arriving late does not replace it. */
export const SAVE_SNAPSHOT = `
INSERT INTO snapshots (stream_id, version, schema_version, state, time) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (stream_id) DO UPDATE SET
  version = excluded.version, schema_version = excluded.schema_version, state = excluded.state, time = excluded.time
WHERE excluded.version >= snapshots.version`;

export const DELETE_SNAPSHOT = `DELETE FROM snapshots WHERE stream_id = ?`;
