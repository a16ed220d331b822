/** Migration 3's text and the statements of the SQLite outbox and inbox. */

export const OUTBOX_INBOX_MIGRATION_SQL = `
-- The state-based outbox: messages written in the user's own transaction, moved to the transport
-- by the outbox's relay in seq order and deleted once the transport confirmed them.
CREATE TABLE outbox_messages (
  seq      INTEGER PRIMARY KEY,
  outbox   TEXT    NOT NULL,
  message  TEXT    NOT NULL, -- JSON: destination and envelope, fixed when added
  added_at TEXT    NOT NULL
);
CREATE INDEX outbox_messages_by_outbox ON outbox_messages (outbox, seq);
-- One relay per outbox at a time; rows are deleted only under the epoch the relay holds.
CREATE TABLE outbox_relays (
  outbox     TEXT    PRIMARY KEY,
  holder     TEXT    NOT NULL,
  epoch      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL -- ms since 1970, this machine's clock
) WITHOUT ROWID;
-- The inbox: which consumer handled which message, written in the handler's transaction.
CREATE TABLE inbox_records (
  consumer   TEXT    NOT NULL,
  message_id TEXT    NOT NULL,
  handled_at INTEGER NOT NULL, -- ms since 1970
  PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;
CREATE INDEX inbox_records_by_time ON inbox_records (handled_at);
`;

export const OUTBOX_INSERT = `INSERT INTO outbox_messages (outbox, message, added_at) VALUES (?, ?, ?)`;
export const OUTBOX_PEEK = `SELECT seq, message FROM outbox_messages WHERE outbox = ? ORDER BY seq LIMIT ?`;
export const OUTBOX_COUNT = `SELECT count(*) FROM outbox_messages WHERE outbox = ?`;
export const OUTBOX_DELETE = `DELETE FROM outbox_messages WHERE outbox = @outbox AND seq IN (SELECT value FROM json_each(@seqs))`;
export const OUTBOX_ACQUIRE = `
INSERT INTO outbox_relays (outbox, holder, epoch, expires_at) VALUES (@outbox, @holder, 1, @now + @ttl)
ON CONFLICT (outbox) DO UPDATE SET
  epoch = CASE WHEN outbox_relays.holder = excluded.holder THEN outbox_relays.epoch ELSE outbox_relays.epoch + 1 END,
  holder = excluded.holder,
  expires_at = excluded.expires_at
WHERE outbox_relays.holder = excluded.holder OR outbox_relays.expires_at <= @now
RETURNING epoch`;
export const OUTBOX_RELEASE = `UPDATE outbox_relays SET expires_at = 0 WHERE outbox = ? AND holder = ?`;
export const OUTBOX_HELD = `SELECT 1 FROM outbox_relays WHERE outbox = ? AND holder = ? AND epoch = ?`;

export const INBOX_RECORD = `INSERT INTO inbox_records (consumer, message_id, handled_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`;
export const INBOX_HAS = `SELECT 1 FROM inbox_records WHERE consumer = ? AND message_id = ?`;
export const INBOX_PRUNE = `DELETE FROM inbox_records WHERE handled_at < ?`;
