/** Statements on the `checkpoints` table: the last position each named subscription handled. */

export const LOAD_CHECKPOINT = `SELECT position FROM checkpoints WHERE subscription_id = ?`;

export const STORE_CHECKPOINT = `
INSERT INTO checkpoints (subscription_id, position, updated_at) VALUES (?, ?, ?)
ON CONFLICT (subscription_id) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`;
