/** Statements on the `streams` table: one row per stream with its version, metadata and delete state. */

export const GET_STREAM = `SELECT version, metadata, soft_deleted, tombstoned FROM streams WHERE stream_id = ?`;

export const INSERT_STREAM = `INSERT INTO streams (stream_id, version) VALUES (?, ?)`;

/** After an append: the new version, and the stream is visible again if it was soft-deleted. */
export const SET_STREAM_VERSION = `UPDATE streams SET version = ?, soft_deleted = 0 WHERE stream_id = ?`;

export const UPSERT_STREAM_METADATA = `
INSERT INTO streams (stream_id, metadata) VALUES (?, ?)
ON CONFLICT (stream_id) DO UPDATE SET metadata = excluded.metadata`;

export const SOFT_DELETE_STREAM = `
INSERT INTO streams (stream_id, metadata, soft_deleted) VALUES (?, ?, 1)
ON CONFLICT (stream_id) DO UPDATE SET metadata = excluded.metadata, soft_deleted = 1`;

export const TOMBSTONE_STREAM = `
INSERT INTO streams (stream_id, tombstoned) VALUES (?, 1)
ON CONFLICT (stream_id) DO UPDATE SET tombstoned = 1`;
