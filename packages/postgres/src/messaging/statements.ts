/**
 * The queue's statements. They run unnamed, so PostgreSQL plans each with its parameters and the
 * table's current size: a named statement prepared while the table was empty may keep a generic
 * whole-table plan for good, and with autovacuum off nothing ever tells the planner otherwise
 * (issue 9 measured a claim 10× slower after 20,000 rows that way).
 */
import type { StoreNames } from '../names.js';

export interface QueueStatements {
  readonly enqueue: string;
  readonly claim: string;
  readonly nextVisible: string;
  readonly remove: string;
  readonly ack: string;
  readonly retry: string;
  readonly release: string;
  readonly extend: string;
  readonly declareGroup: string;
  readonly groupsOf: string;
  readonly cancel: string;
  readonly deadLetter: string;
  readonly listDeadLetters: string;
  readonly getDeadLetter: string;
  readonly redrive: string;
  readonly purge: string;
}

/**
 * The rows `enqueue` inserts (`destination` a queue's key, or null and `topic` set: one row per
 * group of the topic), then the per-key bookkeeping and the insert, all in one statement.
 */
function insertMessages(s: string, rows: string, before = ''): string {
  return `
WITH ${before}m AS (${rows}),
r AS (
  SELECT coalesce(m.destination, g.destination) AS destination, m.id, m.partition_key, m.visible_at, m.envelope, m.ord
  FROM m LEFT JOIN ${s}.topic_groups g ON m.destination IS NULL AND g.topic = m.topic
  WHERE m.destination IS NOT NULL OR g.destination IS NOT NULL
),
ranked AS (
  SELECT r.*, row_number() OVER (PARTITION BY r.destination, r.partition_key ORDER BY r.ord) AS rank_in_batch FROM r
),
added AS (
  SELECT r.destination, r.partition_key, count(*) AS n FROM r WHERE r.partition_key IS NOT NULL GROUP BY 1, 2
),
k AS (
  -- Sorted: two sends lock their keys' rows in one order, so they never deadlock on them.
  INSERT INTO ${s}.queue_keys AS k (destination, partition_key, pending, last_rank)
  SELECT a.destination, a.partition_key, a.n, a.n FROM added a ORDER BY a.destination, a.partition_key
  ON CONFLICT (tenant_id, destination, partition_key) DO UPDATE
    SET pending = k.pending + excluded.pending, last_rank = k.last_rank + excluded.last_rank
  RETURNING k.destination, k.partition_key, k.pending, k.last_rank
)
INSERT INTO ${s}.queue_messages (destination, id, partition_key, key_rank, visible_at, blocked, envelope)
SELECT x.destination, x.id, x.partition_key, k.last_rank - a.n + x.rank_in_batch, x.visible_at,
       x.partition_key IS NOT NULL AND (k.pending - a.n > 0 OR x.rank_in_batch > 1), x.envelope
FROM ranked x
LEFT JOIN added a ON a.destination = x.destination AND a.partition_key = x.partition_key
LEFT JOIN k ON k.destination = x.destination AND k.partition_key = x.partition_key
ORDER BY x.ord, x.destination`;
}

/**
 * Claims and acks commit without waiting for the WAL flush (`synchronous_commit = off` for their
 * transaction only). Lost in a server crash, a claim or an ack only means the message is delivered
 * again (the fenced answers of the lost claim change nothing): at-least-once holds, and neither
 * pays a disk flush per batch. Sends, dead-lettering, redrives and cancels stay synchronous: what
 * they promise must survive the crash.
 */
const ASYNC_COMMIT = `(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit`;

const DEAD_LETTER_COLUMNS =
  'id, source, consumer, reason, error, stack, attempts, first_failed_at, last_failed_at, envelope, raw';

/** $1 ids, $2 consumer, $3 destination, $4 type, $5 reason, $6 before, $7 limit. */
const FILTER = `($1::uuid[] IS NULL OR id = ANY ($1::uuid[]))
  AND ($2::text IS NULL OR consumer = $2::text)
  AND ($3::text IS NULL OR destination = $3::text)
  AND ($4::text IS NULL OR type = $4::text)
  AND ($5::text IS NULL OR reason = $5::text)
  AND ($6::timestamptz IS NULL OR dead_lettered_at <= $6::timestamptz)`;

export function queueStatements({ qschema: s }: StoreNames): QueueStatements {
  const selected = (lock: string, extra = '') =>
    `SELECT id FROM ${s}.queue_dead_letters WHERE ${FILTER}${extra} ORDER BY seq LIMIT $7${lock}`;
  return {
    /** $1 destinations, $2 topics, $3 ids, $4 partition keys, $5 visible-at times (null: now), $6 envelopes. */
    enqueue: insertMessages(
      s,
      `SELECT u.destination, u.topic, u.id, u.partition_key, coalesce(u.visible_at, now()) AS visible_at, u.envelope, u.ord
       FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[])
         WITH ORDINALITY AS u(destination, topic, id, partition_key, visible_at, envelope, ord)`,
    ),
    /** $1 destination, $2 how many, $3 lease owner, $4 visibility in ms. A committed claim: the lease holds on its own. */
    claim: `SELECT c.* FROM ${ASYNC_COMMIT}, ${s}.queue_claim($1, $2, $3, $4) AS c`,
    /** Milliseconds until the destination's next message becomes claimable (a delay or a lease ending), or null. */
    nextVisible: `SELECT extract(epoch FROM (min(visible_at) - now())) * 1000 FROM ${s}.queue_messages WHERE destination = $1 AND NOT blocked`,
    /** $1 destinations, $2 seqs, $3 attempts (null: unfenced). */
    /** Acks: asynchronous commit, see ASYNC_COMMIT. */
    ack: `SELECT ${s}.queue_remove($1::text[], $2::bigint[], $3::integer[]) FROM ${ASYNC_COMMIT}`,
    remove: `SELECT ${s}.queue_remove($1::text[], $2::bigint[], $3::integer[])`,
    /** $1 destination, $2 seq, $3 attempts, $4 delay ms, $5 error. */
    retry: `UPDATE ${s}.queue_messages
      SET visible_at = now() + $4 * interval '1 millisecond', lease_owner = NULL, lease_until = NULL,
          last_error = $5, first_failed_at = coalesce(first_failed_at, now())
      WHERE destination = $1 AND seq = $2 AND attempts = $3`,
    /** $1 destinations, $2 seqs, $3 attempts. Back without counting the delivery. */
    release: `SELECT ${s}.queue_touch($1::text[], $2::bigint[], $3::integer[], NULL)`,
    /** $1 destinations, $2 seqs, $3 attempts, $4 ms. */
    extend: `SELECT ${s}.queue_touch($1::text[], $2::bigint[], $3::integer[], $4)`,
    /** $1 topics, $2 groups, $3 destinations. */
    declareGroup: `INSERT INTO ${s}.topic_groups (topic, group_name, destination)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1, 2
      ON CONFLICT (tenant_id, topic, group_name) DO NOTHING`,
    groupsOf: `SELECT destination FROM ${s}.topic_groups WHERE topic = $1`,
    /** $1 destinations, $2 message id: the not yet delivered rows of a delayed message. */
    cancel: `SELECT ${s}.queue_remove(array_agg(destination), array_agg(seq), array_agg(attempts))
      FROM ${s}.queue_messages
      WHERE id = $2 AND destination = ANY ($1::text[]) AND attempts = 0 AND visible_at > now()`,
    /**
     * $1 destination, $2 seq, $3 attempts, then the dead letter: $4 source, $5 consumer, $6 message id,
     * $7 type, $8 partition key, $9 reason, $10 error, $11 stack, $12 attempts, $13 first, $14 last failure,
     * $15 envelope, $16 raw. One statement: removed and parked together, or neither; parked only
     * if this delivery still held the message (else another consumer has it now).
     */
    deadLetter: `
WITH removed AS (SELECT ${s}.queue_remove(ARRAY[$1::text], ARRAY[$2::bigint], ARRAY[$3::integer]) AS seq)
INSERT INTO ${s}.queue_dead_letters
  (destination, source, consumer, message_id, type, partition_key, reason, error, stack, attempts, first_failed_at, last_failed_at, envelope, raw)
SELECT $1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 FROM removed
RETURNING id, dead_lettered_at`,
    listDeadLetters: `SELECT ${DEAD_LETTER_COLUMNS} FROM ${s}.queue_dead_letters WHERE ${FILTER} ORDER BY seq LIMIT $7`,
    getDeadLetter: `SELECT ${DEAD_LETTER_COLUMNS} FROM ${s}.queue_dead_letters WHERE id = $1`,
    /**
     * Moves matching dead letters back in one statement: deleted here and inserted there in one
     * commit (interrupted, neither happened). Attempts start again at 0; letters without an
     * envelope (raw bytes) stay.
     */
    redrive: insertMessages(
      s,
      `SELECT d.destination, NULL::text AS topic, d.message_id AS id, d.partition_key, now() AS visible_at, d.envelope, d.seq AS ord FROM d`,
      `d AS (
  DELETE FROM ${s}.queue_dead_letters
  WHERE id = ANY (ARRAY(${selected(' FOR UPDATE SKIP LOCKED', ' AND envelope IS NOT NULL')}))
  RETURNING destination, message_id, partition_key, envelope, seq
),
`,
    ),
    // ARRAY(…) runs the pick once: as the inner side of a semi-join it would run again per row and,
    // skipping rows this statement already deleted, pick more than the limit.
    purge: `DELETE FROM ${s}.queue_dead_letters WHERE id = ANY (ARRAY(${selected(' FOR UPDATE')}))`,
  };
}
