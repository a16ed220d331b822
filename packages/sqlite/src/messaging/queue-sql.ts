/**
 * The SQL of the SQLite transport (tables: migration 2 in `sql/migrations.ts`). A row's
 * "available" time is `max(visible_at, lease_until)`: claims read the `queue_messages_ready`
 * index from its start up to now, so delayed and leased rows are never scanned.
 *
 * Per-key order: a row with a partition key is claimable only when no earlier row of its key is
 * waiting (leased, waiting for a retry, or itself claimable — then that one goes first), and no
 * row of its key at all is leased or waiting for a retry. Rows scheduled for later that were never
 * delivered do not hold their key back: a saga's timer an hour away must not stop its other messages.
 */

const AVAILABLE = 'max(visible_at, lease_until)';

/** The rows a claim takes, in the order they became available. */
const CLAIMABLE = `
SELECT m.seq FROM queue_messages m INDEXED BY queue_messages_ready
WHERE m.destination = @destination AND m.group_name = @group AND max(m.visible_at, m.lease_until) <= @now
  AND (m.partition_key IS NULL OR (
    NOT EXISTS (SELECT 1 FROM queue_messages e INDEXED BY queue_messages_key_order
      WHERE e.destination = m.destination AND e.group_name = m.group_name AND e.partition_key = m.partition_key AND e.seq < m.seq
        AND (e.attempts > 0 OR e.lease_owner IS NOT NULL OR e.visible_at <= @now))
    AND NOT EXISTS (SELECT 1 FROM queue_messages b INDEXED BY queue_messages_key_busy
      WHERE b.destination = m.destination AND b.group_name = m.group_name AND b.partition_key = m.partition_key
        AND max(b.visible_at, b.lease_until) > @now AND (b.attempts > 0 OR b.lease_owner IS NOT NULL))))
ORDER BY max(m.visible_at, m.lease_until), m.seq`;

/** A read before the claim: a receiver with nothing to claim never takes the write lock. */
export const ANY_CLAIMABLE = `${CLAIMABLE} LIMIT 1`;

export const CLAIM = `
UPDATE queue_messages SET attempts = attempts + 1, lease_owner = @owner, lease_until = @until
WHERE seq IN (${CLAIMABLE} LIMIT @max)
RETURNING seq, attempts, first_failed_at, partition_key, envelope`;

/** When the next row of the destination becomes available (a delay, a retry or a lease ending). */
export const NEXT_AVAILABLE = `
SELECT ${AVAILABLE} FROM queue_messages INDEXED BY queue_messages_ready
WHERE destination = @destination AND group_name = @group AND ${AVAILABLE} > @now
ORDER BY ${AVAILABLE} LIMIT 1`;

export const INSERT_QUEUE_MESSAGE = `
INSERT INTO queue_messages (destination, group_name, id, partition_key, visible_at, envelope)
VALUES (@destination, '', @id, @partitionKey, @visibleAt, @envelope)`;

/** One row per group of the topic that exists now. */
export const INSERT_TOPIC_MESSAGE = `
INSERT INTO queue_messages (destination, group_name, id, partition_key, visible_at, envelope)
SELECT @destination, group_name, @id, @partitionKey, @visibleAt, @envelope FROM queue_topic_groups WHERE topic = @destination`;

/** Back from the dead-letter queue: attempts start again. */
export const INSERT_REDRIVEN = `
INSERT INTO queue_messages (destination, group_name, id, partition_key, visible_at, envelope)
VALUES (@destination, @group, @id, @partitionKey, @visibleAt, @envelope)`;

export const DECLARE_GROUP = `INSERT OR IGNORE INTO queue_topic_groups (topic, group_name, created_at) VALUES (@topic, @group, @now)`;

// Every change to a claimed row is fenced by its delivery (seq, holder, attempt): a receiver
// whose lease ran out and whose message another receiver took changes nothing.
const FENCE = 'seq = @seq AND lease_owner = @owner AND attempts = @attempts';

export const ACK = `DELETE FROM queue_messages WHERE ${FENCE}`;

export const RETRY = `
UPDATE queue_messages SET lease_owner = NULL, lease_until = 0, visible_at = @visibleAt, last_error = @error,
  first_failed_at = coalesce(first_failed_at, @failedAt)
WHERE ${FENCE}`;

/** Given back unhandled: the delivery does not count, and the row keeps its place. */
export const RELEASE = `UPDATE queue_messages SET lease_owner = NULL, lease_until = 0, attempts = attempts - 1 WHERE ${FENCE}`;

export const EXTEND = `UPDATE queue_messages SET lease_until = @until WHERE ${FENCE}`;

export const TAKE_FOR_DEAD_LETTER = `DELETE FROM queue_messages WHERE ${FENCE} RETURNING id`;

export const INSERT_DEAD_LETTER = `
INSERT INTO queue_dead_letters (id, destination, group_name, consumer, type, message, raw, reason, error, stack, attempts, first_failed_at, last_failed_at)
VALUES (@id, @destination, @group, @consumer, @type, @message, @raw, @reason, @error, @stack, @attempts, @firstFailedAt, @lastFailedAt)`;

/** Never delivered and not held: a delayed message can still be withdrawn. */
export const CANCEL_IN_QUEUE = `
DELETE FROM queue_messages WHERE id = @id AND destination = @destination AND group_name = '' AND attempts = 0 AND lease_owner IS NULL`;
export const CANCEL_IN_GROUP = `
DELETE FROM queue_messages WHERE id = @id AND destination = @destination AND group_name = @group AND attempts = 0 AND lease_owner IS NULL`;
export const CANCEL_IN_TOPIC = `
DELETE FROM queue_messages WHERE id = @id AND destination = @destination AND group_name <> '' AND attempts = 0 AND lease_owner IS NULL`;

export const DEAD_LETTER_COLUMNS =
  'seq, id, destination, group_name, consumer, message, raw, reason, error, stack, attempts, first_failed_at, last_failed_at';

export const DATA_VERSION = 'PRAGMA data_version';
