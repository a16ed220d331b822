/**
 * Migration 6: the durable queue. Messages of queues and of topic groups live in one table, a row
 * per message and destination (a topic's publish writes one row per group, in one statement).
 * Every table is tenant-scoped by row-level security like the event tables.
 *
 * Per-key order: of the messages of one destination and partition key, only the head (the lowest
 * `key_rank`) is claimable; the others are `blocked` and outside the claim's partial index, so a
 * hot key with a deep backlog costs the claim nothing. `queue_keys` holds, per destination and key,
 * how many messages wait and the last rank handed out; its row is the lock that orders a send of
 * the key against the removal of its head (an insert and a removal of one key take turns on it).
 *
 * A claim sets `visible_at` to the lease's end, so available = `visible_at <= now()` and the claim
 * is one range scan of `queue_messages_ready_idx` in (visible_at, seq) order: delayed messages,
 * leased ones and expired leases all fall out of that one rule.
 */
import { dollarQuoted } from '../sql/functions.js';
import { TENANT_SETTING, tenantPolicy } from '../sql/tables.js';
import type { StoreNames } from '../names.js';

const TENANT_COLUMN = `tenant_id text COLLATE "C" NOT NULL DEFAULT current_setting('${TENANT_SETTING}')`;

/**
 * Plans that do not depend on statistics. With autovacuum off nothing ever analyzes the queue
 * table, and the default selectivities (0.5% per equality: tenant × destination) make a table of
 * 20,000 waiting rows look like one row: measured, the claim then scanned the destination's whole
 * primary-key range and sorted it (111 ms for a claim of 100), and the ack found its rows by a
 * tenant-wide bitmap scan. Turning the whole-range alternatives off inside these functions leaves
 * the planner the index paths only: the claim walks `queue_messages_ready_idx` in order and
 * updates by ctid, removals probe the primary key per row (a nested loop over the given rows).
 */
const FIXED_PLANS = 'SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off';

function claimFunction(s: string): string {
  // The pick is an InitPlan (ARRAY(…), run once); the rows it locked keep their ctid until this
  // statement updates them, so the update finds them by a TID scan.
  return `
UPDATE ${s}.queue_messages q
SET attempts = q.attempts + 1, lease_owner = p_owner,
    visible_at = now() + p_ms * interval '1 millisecond', lease_until = now() + p_ms * interval '1 millisecond'
WHERE q.ctid = ANY (ARRAY(
  SELECT m.ctid FROM ${s}.queue_messages m
  WHERE m.destination = p_destination AND NOT m.blocked AND m.visible_at <= now()
  ORDER BY m.visible_at, m.seq LIMIT p_max
  FOR UPDATE SKIP LOCKED))
RETURNING q.seq, q.attempts, q.first_failed_at, q.partition_key, q.envelope
`;
}

function touchFunction(s: string): string {
  // Release (p_ms null: visible now, the delivery not counted) or extend the lease, fenced by attempts.
  return `
UPDATE ${s}.queue_messages q
SET visible_at = now() + coalesce(p_ms, 0) * interval '1 millisecond',
    lease_until = CASE WHEN p_ms IS NULL THEN NULL ELSE now() + p_ms * interval '1 millisecond' END,
    lease_owner = CASE WHEN p_ms IS NULL THEN NULL ELSE q.lease_owner END,
    attempts = CASE WHEN p_ms IS NULL THEN q.attempts - 1 ELSE q.attempts END
FROM unnest(p_destinations, p_seqs, p_attempts) AS r(destination, seq, attempts)
WHERE q.destination = r.destination AND q.seq = r.seq AND q.attempts = r.attempts
`;
}

function removeFunction(s: string): string {
  // Volatile plpgsql: each statement takes a fresh snapshot, so the promotion below, which runs
  // after the key rows are locked, sees a send of the key that committed while it waited.
  return `
DECLARE
  v_seqs bigint[];
  v_dest text[];
  v_keys text[];
BEGIN
  WITH d AS (
    DELETE FROM ${s}.queue_messages q
    USING unnest(p_destinations, p_seqs, p_attempts) AS r(destination, seq, attempts)
    WHERE q.destination = r.destination AND q.seq = r.seq AND (r.attempts IS NULL OR q.attempts = r.attempts)
    RETURNING q.destination, q.seq, q.partition_key
  )
  SELECT array_agg(d.seq),
         array_agg(d.destination) FILTER (WHERE d.partition_key IS NOT NULL),
         array_agg(d.partition_key) FILTER (WHERE d.partition_key IS NOT NULL)
    INTO v_seqs, v_dest, v_keys FROM d;
  IF v_dest IS NOT NULL THEN
    -- Sorted, as sends lock them: a send and a removal never wait for each other in a circle.
    PERFORM 1 FROM ${s}.queue_keys k
      WHERE (k.destination, k.partition_key) IN (SELECT u.d, u.k FROM unnest(v_dest, v_keys) AS u(d, k))
      ORDER BY k.destination, k.partition_key FOR UPDATE;
    UPDATE ${s}.queue_keys k SET pending = k.pending - x.n
      FROM (SELECT u.d, u.k, count(*) AS n FROM unnest(v_dest, v_keys) AS u(d, k) GROUP BY 1, 2) x
      WHERE k.destination = x.d AND k.partition_key = x.k;
    DELETE FROM ${s}.queue_keys k
      WHERE k.pending <= 0 AND (k.destination, k.partition_key) IN (SELECT u.d, u.k FROM unnest(v_dest, v_keys) AS u(d, k));
    UPDATE ${s}.queue_messages q SET blocked = false
      FROM (SELECT DISTINCT u.d, u.k FROM unnest(v_dest, v_keys) AS u(d, k)) x
      WHERE q.destination = x.d AND q.partition_key = x.k AND q.blocked
        AND q.key_rank = (SELECT min(h.key_rank) FROM ${s}.queue_messages h WHERE h.destination = x.d AND h.partition_key = x.k)
        AND NOT EXISTS (SELECT 1 FROM ${s}.queue_messages h WHERE h.destination = x.d AND h.partition_key = x.k AND NOT h.blocked);
  END IF;
  RETURN QUERY SELECT unnest(v_seqs);
END
`;
}

export function queueSql({ qschema: s }: StoreNames): string {
  return `
CREATE TABLE ${s}.queue_messages (
  ${TENANT_COLUMN},
  -- 'q:' || queue, or 't:' || length(topic) || ':' || topic || ':' || group (destinations.ts).
  destination text COLLATE "C" NOT NULL,
  seq bigint GENERATED BY DEFAULT AS IDENTITY,
  id uuid NOT NULL,
  partition_key text COLLATE "C",
  -- Order of the key's messages, as their sends took the key's row (queue_keys).
  key_rank bigint,
  visible_at timestamptz NOT NULL,
  blocked boolean NOT NULL DEFAULT false,
  -- Deliveries so far (a claim counts one; a release gives it back).
  attempts integer NOT NULL DEFAULT 0,
  lease_owner text,
  lease_until timestamptz,
  first_failed_at timestamptz,
  last_error text,
  -- The envelope's JSON as sent: text, not jsonb, so it comes back byte for byte and unparsed by the server.
  envelope text NOT NULL,
  CONSTRAINT queue_messages_pkey PRIMARY KEY (tenant_id, destination, seq)
);
CREATE INDEX queue_messages_ready_idx ON ${s}.queue_messages (tenant_id, destination, visible_at, seq) WHERE NOT blocked;
CREATE INDEX queue_messages_key_idx ON ${s}.queue_messages (tenant_id, destination, partition_key, key_rank) WHERE partition_key IS NOT NULL;
CREATE INDEX queue_messages_id_idx ON ${s}.queue_messages (tenant_id, id);

CREATE TABLE ${s}.queue_keys (
  ${TENANT_COLUMN},
  destination text COLLATE "C" NOT NULL,
  partition_key text COLLATE "C" NOT NULL,
  pending bigint NOT NULL,
  last_rank bigint NOT NULL,
  CONSTRAINT queue_keys_pkey PRIMARY KEY (tenant_id, destination, partition_key)
);

CREATE TABLE ${s}.topic_groups (
  ${TENANT_COLUMN},
  topic text COLLATE "C" NOT NULL,
  group_name text COLLATE "C" NOT NULL,
  destination text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT topic_groups_pkey PRIMARY KEY (tenant_id, topic, group_name)
);

CREATE TABLE ${s}.queue_dead_letters (
  ${TENANT_COLUMN},
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  seq bigint GENERATED BY DEFAULT AS IDENTITY,
  -- Where a redrive puts it back (the queue, or the one topic group).
  destination text COLLATE "C" NOT NULL,
  source jsonb NOT NULL,
  consumer text COLLATE "C" NOT NULL,
  message_id uuid,
  type text COLLATE "C",
  partition_key text COLLATE "C",
  reason text COLLATE "C" NOT NULL,
  error text NOT NULL,
  stack text,
  attempts integer NOT NULL,
  first_failed_at timestamptz NOT NULL,
  last_failed_at timestamptz NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT now(),
  envelope text,
  raw text,
  CONSTRAINT queue_dead_letters_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX queue_dead_letters_seq_idx ON ${s}.queue_dead_letters (tenant_id, seq);

CREATE FUNCTION ${s}.queue_remove(p_destinations text[], p_seqs bigint[], p_attempts integer[])
  RETURNS SETOF bigint LANGUAGE plpgsql ${FIXED_PLANS}
  SET enable_hashjoin = off SET enable_mergejoin = off AS ${dollarQuoted(removeFunction(s))};

CREATE FUNCTION ${s}.queue_claim(p_destination text, p_max integer, p_owner text, p_ms double precision)
  RETURNS TABLE (seq bigint, attempts integer, first_failed_at timestamptz, partition_key text, envelope text)
  LANGUAGE sql ${FIXED_PLANS} AS ${dollarQuoted(claimFunction(s))};

CREATE FUNCTION ${s}.queue_touch(p_destinations text[], p_seqs bigint[], p_attempts integer[], p_ms double precision)
  RETURNS void LANGUAGE sql ${FIXED_PLANS} SET enable_hashjoin = off SET enable_mergejoin = off
  AS ${dollarQuoted(touchFunction(s))};

${['queue_messages', 'queue_keys', 'topic_groups', 'queue_dead_letters'].map((table) => tenantPolicy(s, table)).join('\n')}
`;
}

export function queueGrants({ qschema: s, qrole: r }: StoreNames): string {
  return `
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.queue_messages, ${s}.queue_keys, ${s}.topic_groups, ${s}.queue_dead_letters TO ${r};
GRANT USAGE ON SEQUENCE ${s}.queue_messages_seq_seq, ${s}.queue_dead_letters_seq_seq TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.queue_remove, ${s}.queue_claim, ${s}.queue_touch TO ${r};`;
}
