/**
 * Migration 3: positions from a per-tenant log head instead of transaction ids.
 *
 * Until migration 2 a position was `xid8 << 20 + index`, and the log was read only below the
 * oldest transaction in flight on the whole server: any transaction anywhere (another database,
 * an orphaned prepared transaction, a projection runner's batch) held every reader back, and a
 * dump restored onto a fresh server (a lower xid counter) put new events below old ones.
 *
 * Now each tenant has one row in `log_heads`. An append takes its positions from that row with an
 * UPDATE as its last step before inserting the events, so the row stays locked until the append's
 * transaction ends: appends of one tenant commit in position order. Every committed event is
 * visible below any uncommitted one, readers need no bound, and nothing else on the server can
 * hold them back. Positions are plain data: they survive dump and restore.
 *
 * Also here: the recorded time never goes backwards within a stream (`streams.last_time`), and
 * each tenant's wake-ups go on a channel named by a random secret (`tenant_channels`) that only
 * the tenant's sessions can read, with an empty payload.
 */
import type { StoreNames } from '../names.js';
import { dollarQuoted, EXPECTED_KIND, MAX_EVENTS_PER_TRANSACTION, SQLSTATE } from './functions.js';
import { E_COLUMNS, EVENT_TABLE, LOG_FILTERS, ORDERED_READ } from './reads.js';
import { TENANT_SETTING, tenantPolicy } from './tables.js';

const TENANT = `current_setting('${TENANT_SETTING}')`;
const TENANT_COLUMN = `tenant_id text COLLATE "C" NOT NULL DEFAULT ${TENANT}`;

/** The append function's parameters before migration 3, to drop it (its result columns change). */
const OLD_APPEND_SIGNATURE =
  'text, smallint, bigint, uuid[], text[], integer[], jsonb, jsonb, text[], text[], timestamptz, text, boolean';

/** What `append` and `append_or_error` take and answer (the latter adds the error it caught). */
const APPEND_PARAMETERS = `  p_stream_id text,
  p_expected_kind smallint,
  p_expected_version bigint,
  p_ids uuid[],
  p_types text[],
  p_schema_versions integer[],
  p_data jsonb,
  p_metadata jsonb,
  p_correlation_ids text[],
  p_causation_ids text[],
  p_time timestamptz,
  p_source text,
  p_ids_given boolean,
  OUT first_position bigint,
  OUT first_version bigint,
  OUT idempotent boolean,
  OUT recorded_time timestamptz`;

function tablesSql(s: string): string {
  return `
-- One row per tenant: the last position handed out. Updated by every append, so kept HOT.
CREATE TABLE ${s}.log_heads (
  ${TENANT_COLUMN},
  position bigint NOT NULL,
  CONSTRAINT log_heads_pkey PRIMARY KEY (tenant_id)
) WITH (fillfactor = 20);

-- The LISTEN/NOTIFY channel of each tenant: random, so that only who can read this row can listen.
CREATE TABLE ${s}.tenant_channels (
  ${TENANT_COLUMN},
  channel text NOT NULL,
  CONSTRAINT tenant_channels_pkey PRIMARY KEY (tenant_id)
);

ALTER TABLE ${s}.streams ADD COLUMN last_time timestamptz;

-- The schema's owner is subject to the tenant policies too (FORCE); the backfill must see every
-- tenant. Lifted only inside this migration's transaction.
ALTER TABLE ${s}.events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ${s}.streams NO FORCE ROW LEVEL SECURITY;
-- Old positions stay valid; each tenant's new ones continue above its highest.
INSERT INTO ${s}.log_heads (tenant_id, position)
  SELECT tenant_id, max(position) FROM ${s}.events GROUP BY tenant_id;
UPDATE ${s}.streams st SET last_time = e.time
  FROM ${s}.events e
  WHERE e.tenant_id = st.tenant_id AND e.stream_id = st.stream_id AND e.stream_version = st.version;
ALTER TABLE ${s}.events FORCE ROW LEVEL SECURITY;
ALTER TABLE ${s}.streams FORCE ROW LEVEL SECURITY;
${tenantPolicy(s, 'log_heads')}
${tenantPolicy(s, 'tenant_channels')}
`;
}

/** A seed of its own for the head's advisory lock, so that no stream's lock key can be the same. */
function headLockSeed(lockSeed: bigint): bigint {
  return lockSeed ^ 0x4c4f475f48454144n;
}

function appendSql(s: string, lockSeed: bigint): string {
  const insertEvents = `
      INSERT INTO ${s}.events (position, id, stream_id, stream_version, type, schema_version, data, metadata,
                               correlation_id, causation_id, time, source)
      SELECT first_position + u.n - 1, u.id, p_stream_id, v_version + u.n, u.type, u.schema_version,
             p_data -> (u.n::integer - 1), p_metadata -> (u.n::integer - 1), u.correlation_id, u.causation_id,
             recorded_time, p_source
      FROM unnest(p_ids, p_types, p_schema_versions, p_correlation_ids, p_causation_ids)
           WITH ORDINALITY AS u(id, type, schema_version, correlation_id, causation_id, n)`;
  const wrongVersion = `RAISE EXCEPTION 'Wrong expected version for %: actual version %', p_stream_id, v_version
      USING ERRCODE = '${SQLSTATE.wrongExpectedVersion}', DETAIL = v_version::text;`;
  const duplicate = (id: string) => `RAISE EXCEPTION 'Event id % is already recorded and this append is not an exact retry of it', ${id}
      USING ERRCODE = '${SQLSTATE.duplicateEventId}', DETAIL = ${id}::text;`;
  const body = `
DECLARE
  v_count integer := cardinality(p_ids);
  v_version bigint;
  v_soft_deleted boolean;
  v_tombstoned boolean;
  v_last_time timestamptz;
  v_found boolean;
  v_first_stream text;
  v_first_version bigint;
  v_first_position bigint;
  v_known uuid;
  v_head bigint;
BEGIN
  IF v_count > ${MAX_EVENTS_PER_TRANSACTION} THEN
    RAISE EXCEPTION 'An append can hold at most ${MAX_EVENTS_PER_TRANSACTION} events'
      USING ERRCODE = '${SQLSTATE.tooManyEvents}';
  END IF;
  -- Serializes the writers of one stream, so that positions within it follow its versions.
  PERFORM pg_advisory_xact_lock(hashtextextended(${TENANT} || '/' || p_stream_id, ${lockSeed}));
  SELECT st.version, st.soft_deleted, st.tombstoned, st.last_time
    INTO v_version, v_soft_deleted, v_tombstoned, v_last_time
    FROM (SELECT) AS one
    LEFT JOIN ${s}.streams st ON st.tenant_id = ${TENANT} AND st.stream_id = p_stream_id;
  v_found := v_version IS NOT NULL;
  IF NOT v_found THEN
    v_version := 0; v_soft_deleted := false; v_tombstoned := false;
  END IF;
  IF v_tombstoned THEN
    RAISE EXCEPTION 'Stream % has been deleted permanently (tombstoned)', p_stream_id
      USING ERRCODE = '${SQLSTATE.streamDeleted}';
  END IF;
  -- The tenant is named, not left to row-level security alone: a plan cached on an empty table
  -- must still see that (tenant_id, id) is a unique key.
  IF p_ids_given THEN
    SELECT e.stream_id, e.stream_version, e.position, e.time
      INTO v_first_stream, v_first_version, v_first_position, recorded_time
      FROM ${s}.events e WHERE e.tenant_id = ${TENANT} AND e.id = p_ids[1];
  END IF;

  -- An exact retry names the same ids, in the same order, where they were recorded.
  IF v_first_stream IS NOT NULL THEN
    IF v_first_stream <> p_stream_id OR p_ids IS DISTINCT FROM ARRAY(
        SELECT e.id FROM ${s}.events e
        WHERE e.tenant_id = ${TENANT} AND e.stream_id = p_stream_id
          AND e.stream_version >= v_first_version
          AND e.stream_version < v_first_version + v_count
        ORDER BY e.stream_version) THEN
      ${duplicate('p_ids[1]')}
    END IF;
    IF NOT (CASE p_expected_kind
        WHEN ${EXPECTED_KIND.noStream} THEN v_first_version = 1
        WHEN ${EXPECTED_KIND.exact} THEN v_first_version = p_expected_version + 1
        ELSE true END) THEN
      ${wrongVersion}
    END IF;
    first_position := v_first_position;
    first_version := v_first_version;
    idempotent := true;
    RETURN;
  END IF;

  IF NOT (CASE p_expected_kind
      WHEN ${EXPECTED_KIND.any} THEN true
      WHEN ${EXPECTED_KIND.noStream} THEN NOT (v_version > 0 AND NOT v_soft_deleted)
      WHEN ${EXPECTED_KIND.streamExists} THEN v_version > 0 AND NOT v_soft_deleted
      ELSE v_version = p_expected_version END) THEN
    -- A reused id outranks the version conflict, as in the reference store.
    IF p_ids_given THEN
      SELECT e.id INTO v_known FROM ${s}.events e WHERE e.tenant_id = ${TENANT} AND e.id = ANY (p_ids) LIMIT 1;
      IF FOUND THEN
        ${duplicate('v_known')}
      END IF;
    END IF;
    ${wrongVersion}
  END IF;

  -- Time never goes backwards within a stream, whatever the appending process's clock says.
  recorded_time := greatest(p_time, v_last_time);
  first_version := v_version + 1;
  idempotent := false;

  -- The positions, as late as possible: the head's row stays locked until this transaction ends,
  -- and every other append of the tenant waits here for it. The advisory lock first queues the
  -- waiters, so that a commit wakes only the next one: waiting on the row lock alone wakes all of
  -- them to fight over it again (measured with 16 writers: 1.4-2.8x fewer appends per second).
  PERFORM pg_advisory_xact_lock(hashtextextended(${TENANT}, ${headLockSeed(lockSeed)}));
  UPDATE ${s}.log_heads h SET position = h.position + v_count
    WHERE h.tenant_id = ${TENANT} RETURNING h.position INTO v_head;
  IF NOT FOUND THEN
    INSERT INTO ${s}.log_heads AS h (position) VALUES (v_count)
      ON CONFLICT (tenant_id) DO UPDATE SET position = h.position + excluded.position
      RETURNING h.position INTO v_head;
  END IF;
  first_position := v_head - v_count + 1;

  -- Every writer of the stream's row holds the stream's lock: no one can have created it meanwhile.
  IF v_found THEN
    WITH inserted AS (${insertEvents})
    UPDATE ${s}.streams SET version = v_version + v_count, soft_deleted = false,
                            last_position = first_position + v_count - 1, last_time = recorded_time
      WHERE tenant_id = ${TENANT} AND stream_id = p_stream_id;
  ELSE
    WITH inserted AS (${insertEvents})
    INSERT INTO ${s}.streams (stream_id, version, last_position, last_time)
      VALUES (p_stream_id, v_count, first_position + v_count - 1, recorded_time);
  END IF;
END
`;
  return `
DROP FUNCTION ${s}.append(${OLD_APPEND_SIGNATURE});
CREATE FUNCTION ${s}.append(
${APPEND_PARAMETERS}
) LANGUAGE plpgsql AS ${dollarQuoted(body)};
`;
}

/**
 * `append` for a batch of appends in one transaction (the store's group commit): a failure is
 * answered, not raised, and undoes only this append (the EXCEPTION block is a savepoint), so the
 * batch's other appends still commit.
 */
function appendOrErrorSql(s: string): string {
  const body = `
BEGIN
  SELECT a.first_position, a.first_version, a.idempotent, a.recorded_time
    INTO first_position, first_version, idempotent, recorded_time
    FROM ${s}.append(p_stream_id, p_expected_kind, p_expected_version, p_ids, p_types, p_schema_versions, p_data,
                     p_metadata, p_correlation_ids, p_causation_ids, p_time, p_source, p_ids_given) a;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT,
                          error_detail = PG_EXCEPTION_DETAIL, error_constraint = CONSTRAINT_NAME;
END
`;
  return `
CREATE FUNCTION ${s}.append_or_error(
${APPEND_PARAMETERS},
  OUT error_code text,
  OUT error_message text,
  OUT error_detail text,
  OUT error_constraint text
) LANGUAGE plpgsql AS ${dollarQuoted(body)};
`;
}

/** The log's readers without the old bound: what has committed is readable. */
function readsSql(s: string): string {
  return `
CREATE OR REPLACE FUNCTION ${s}.read_log(p_from bigint, p_types text[], p_prefixes text[], p_limit integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE e.position >= p_from AND ${LOG_FILTERS}
  ORDER BY e.position LIMIT p_limit;
END;

CREATE OR REPLACE FUNCTION ${s}.read_category(p_from bigint, p_types text[], p_category text, p_limit integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE split_part(e.stream_id, '-', 1) = p_category AND e.stream_id ^@ (p_category || '-')
    AND e.position >= p_from
    AND NOT e.tombstoned AND (p_types IS NULL OR e.type = ANY (p_types))
  ORDER BY e.position LIMIT p_limit;
END;

CREATE OR REPLACE FUNCTION ${s}.read_partition(p_from bigint, p_types text[], p_prefixes text[], p_limit integer, p_count integer, p_index integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE e.position >= p_from AND ${LOG_FILTERS}
    AND ${s}.partition_of(e.stream_id, p_count) = p_index
  ORDER BY e.position LIMIT p_limit;
END;

-- The committed head: the row is updated only by appends, and an uncommitted one is not seen.
CREATE OR REPLACE FUNCTION ${s}.head_position() RETURNS bigint ${ORDERED_READ}
BEGIN ATOMIC
  SELECT coalesce((SELECT h.position FROM ${s}.log_heads h WHERE h.tenant_id = ${TENANT}), 0);
END;

-- The tenant's channel, made on first use; several sessions may ask at once.
CREATE FUNCTION ${s}.tenant_channel() RETURNS text LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  v_channel text;
BEGIN
  SELECT c.channel INTO v_channel FROM ${s}.tenant_channels c WHERE c.tenant_id = ${TENANT};
  IF v_channel IS NULL THEN
    INSERT INTO ${s}.tenant_channels (channel) VALUES ('el_' || md5(gen_random_uuid()::text))
      ON CONFLICT (tenant_id) DO NOTHING;
    SELECT c.channel INTO v_channel FROM ${s}.tenant_channels c WHERE c.tenant_id = ${TENANT};
  END IF;
  RETURN v_channel;
END
`)};
`;
}

export function logHeadsSql({ qschema: s, lockSeed }: StoreNames): string {
  return tablesSql(s) + appendSql(s, lockSeed) + appendOrErrorSql(s) + readsSql(s);
}

export function logHeadsGrants({ qschema: s, qrole: r }: StoreNames): string {
  return `
GRANT SELECT, INSERT, UPDATE ON ${s}.log_heads TO ${r};
GRANT SELECT, INSERT ON ${s}.tenant_channels TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.append, ${s}.append_or_error, ${s}.tenant_channel TO ${r};`;
}
