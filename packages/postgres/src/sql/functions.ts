/**
 * Migration 1, part 2: the functions that write streams (migration 3, `log-heads.ts`, replaced
 * `append`; the helpers and constants here are shared). Each append is one call — one round
 * trip — that checks the expectation while it holds the stream's lock, recognises an exact
 * retry, and inserts every event with one `unnest`. Errors carry SQLSTATEs of class `EL` that
 * `errors.ts` maps to Eventloom's typed errors.
 *
 * Tables are named with their schema rather than through a `SET search_path` on the function:
 * that clause makes every call re-plan the function's statements and doubles an append's cost.
 */
import type { StoreNames } from '../names.js';
import { TENANT_SETTING } from './tables.js';

/** The session's tenant, as row-level security sees it. */
const TENANT = `current_setting('${TENANT_SETTING}')`;

/** SQLSTATEs raised by the functions below; `DETAIL` carries the value the typed error needs. */
export const SQLSTATE = {
  /** DETAIL: the stream's current version. */
  wrongExpectedVersion: 'EL001',
  streamDeleted: 'EL002',
  /** DETAIL: the event id that is already recorded. */
  duplicateEventId: 'EL003',
  tooManyEvents: 'EL004',
  /** Before migration 3 only: `append` called in a transaction that had written before (or appended already). */
  notFirstWrite: 'EL005',
} as const;

/** How the expected version travels to SQL: a kind and, for `exact`, the version. */
export const EXPECTED_KIND = { any: 0, noStream: 1, streamExists: 2, exact: 3 } as const;

/** Events in one append, at most (before migration 3 they shared their transaction's xid in their positions). */
export const MAX_EVENTS_PER_TRANSACTION = 1 << 20;

/** A dollar-quoted string whose tag does not occur in `body` (schema names may hold anything). */
export function dollarQuoted(body: string): string {
  let tag = '$fn$';
  for (let i = 1; body.includes(tag); i++) tag = `$fn${i}$`;
  return `${tag}${body}${tag}`;
}

const STREAM_VARIABLES = `
  v_found boolean;
  v_version bigint;
  v_soft_deleted boolean;
  v_tombstoned boolean;
  v_last_position bigint;`;

/**
 * Serializes the writers of one stream (appends, deletes, metadata). The lock is an advisory one
 * because taking it must not give the transaction its xid: the xid, and so the position, is
 * assigned after the lock is held, which makes positions within a stream follow its versions.
 * (A row lock would assign the xid before waiting for the lock.) Statements after this one see
 * whatever the previous holder committed.
 */
function lockStream(lockSeed: bigint): string {
  return `PERFORM pg_advisory_xact_lock(hashtextextended(current_setting('eventloom.tenant_id') || '/' || p_stream_id, ${lockSeed}));`;
}

/** Reads the stream's row (`v_found` says whether there is one) and refuses a tombstoned stream. */
function readStream(s: string): string {
  return `
  SELECT s.version, s.soft_deleted, s.tombstoned, s.last_position
    INTO v_version, v_soft_deleted, v_tombstoned, v_last_position
    FROM (SELECT) AS one
    LEFT JOIN ${s}.streams s ON s.tenant_id = ${TENANT} AND s.stream_id = p_stream_id;
  v_found := v_version IS NOT NULL;
  IF NOT v_found THEN
    v_version := 0; v_soft_deleted := false; v_tombstoned := false; v_last_position := 0;
  END IF;
  IF v_tombstoned THEN
    RAISE EXCEPTION 'Stream % has been deleted permanently (tombstoned)', p_stream_id
      USING ERRCODE = '${SQLSTATE.streamDeleted}';
  END IF;`;
}

/**
 * core's `expectationHolds`: a stream is visible when it has events that are not soft-deleted
 * (a row holding only metadata is no stream yet).
 */
const EXPECTATION_HOLDS = `(CASE p_expected_kind
    WHEN ${EXPECTED_KIND.any} THEN true
    WHEN ${EXPECTED_KIND.noStream} THEN NOT (v_version > 0 AND NOT v_soft_deleted)
    WHEN ${EXPECTED_KIND.streamExists} THEN v_version > 0 AND NOT v_soft_deleted
    ELSE v_version = p_expected_version END)`;

const RAISE_WRONG_VERSION = `RAISE EXCEPTION 'Wrong expected version for %: actual version %', p_stream_id, v_version
      USING ERRCODE = '${SQLSTATE.wrongExpectedVersion}', DETAIL = v_version::text;`;

function raiseDuplicate(id: string): string {
  return `RAISE EXCEPTION 'Event id % is already recorded and this append is not an exact retry of it', ${id}
      USING ERRCODE = '${SQLSTATE.duplicateEventId}', DETAIL = ${id}::text;`;
}

/** `lockSeed` keeps the advisory locks of different schemas apart. */
/** `lockSeed` keeps the advisory locks of different schemas apart. */
export function functionsSql({ qschema: s, lockSeed }: StoreNames): string {
  const insertEvents = `
      INSERT INTO ${s}.events (position, id, stream_id, stream_version, type, schema_version, data, metadata,
                               correlation_id, causation_id, time, source)
      SELECT first_position + u.n - 1, u.id, p_stream_id, v_version + u.n, u.type, u.schema_version,
             p_data -> (u.n::integer - 1), p_metadata -> (u.n::integer - 1), u.correlation_id, u.causation_id, p_time, p_source
      FROM unnest(p_ids, p_types, p_schema_versions, p_correlation_ids, p_causation_ids)
           WITH ORDINALITY AS u(id, type, schema_version, correlation_id, causation_id, n)`;
  // Ids the store generated (fresh UUIDv7s) cannot be recorded already: only given ids need looking up.
  const append = `
DECLARE
  v_count integer := cardinality(p_ids);${STREAM_VARIABLES}
  v_first_stream text;
  v_first_version bigint;
  v_first_position bigint;
  v_known uuid;
BEGIN
  -- The xid, and so the position, must come after the stream's lock: a transaction that already
  -- has one (it wrote, or appended, before) could land below the stream's last event.
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'append must be the first write of its transaction (one append per transaction)'
      USING ERRCODE = '${SQLSTATE.notFirstWrite}';
  END IF;
  IF v_count > ${MAX_EVENTS_PER_TRANSACTION} THEN
    RAISE EXCEPTION 'An append can hold at most ${MAX_EVENTS_PER_TRANSACTION} events'
      USING ERRCODE = '${SQLSTATE.tooManyEvents}';
  END IF;
  ${lockStream(lockSeed)}
  ${readStream(s)}
  -- The tenant is named here, not left to row-level security alone: a plan cached while the
  -- table was empty must still see that (tenant_id, id) is a unique key, or it walks the whole
  -- tenant's log (appends slowed down as the log grew).
  IF p_ids_given THEN
    SELECT e.stream_id, e.stream_version, e.position INTO v_first_stream, v_first_version, v_first_position
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
      ${raiseDuplicate('p_ids[1]')}
    END IF;
    IF NOT (CASE p_expected_kind
        WHEN ${EXPECTED_KIND.noStream} THEN v_first_version = 1
        WHEN ${EXPECTED_KIND.exact} THEN v_first_version = p_expected_version + 1
        ELSE true END) THEN
      ${RAISE_WRONG_VERSION}
    END IF;
    first_position := v_first_position;
    first_version := v_first_version;
    idempotent := true;
    RETURN;
  END IF;

  IF NOT ${EXPECTATION_HOLDS} THEN
    -- A reused id outranks the version conflict, as in the reference store.
    IF p_ids_given THEN
      SELECT e.id INTO v_known FROM ${s}.events e WHERE e.tenant_id = ${TENANT} AND e.id = ANY (p_ids) LIMIT 1;
      IF FOUND THEN
        ${raiseDuplicate('v_known')}
      END IF;
    END IF;
    ${RAISE_WRONG_VERSION}
  END IF;

  first_position := pg_current_xact_id()::text::bigint << 20;
  IF first_position <= v_last_position THEN
    RAISE EXCEPTION 'Append to % would land below the stream''s last event', p_stream_id
      USING ERRCODE = '${SQLSTATE.notFirstWrite}';
  END IF;
  first_version := v_version + 1;
  idempotent := false;

  -- Events and the stream's row in one statement. Every writer of the row holds the stream's
  -- lock: no one can have created it meanwhile.
  IF v_found THEN
    WITH inserted AS (${insertEvents})
    UPDATE ${s}.streams SET version = v_version + v_count, soft_deleted = false, last_position = first_position + v_count - 1
      WHERE stream_id = p_stream_id;
  ELSE
    WITH inserted AS (${insertEvents})
    INSERT INTO ${s}.streams (stream_id, version, last_position) VALUES (p_stream_id, v_count, first_position + v_count - 1);
  END IF;
END
`;
  const deleteStream = `
DECLARE${STREAM_VARIABLES}
BEGIN
  ${lockStream(lockSeed)}
  ${readStream(s)}
  IF NOT ${EXPECTATION_HOLDS} THEN
    ${RAISE_WRONG_VERSION}
  END IF;
  IF p_hard THEN
    INSERT INTO ${s}.streams AS s (stream_id, tombstoned) VALUES (p_stream_id, true)
      ON CONFLICT (tenant_id, stream_id) DO UPDATE SET tombstoned = true;
    UPDATE ${s}.events SET tombstoned = true WHERE stream_id = p_stream_id;
  ELSE
    -- Soft delete hides what is there now; the next append makes the stream visible again
    -- (core's softDeletedMetadata rule, here in SQL to stay atomic with the version check).
    INSERT INTO ${s}.streams AS s (stream_id, version, soft_deleted, metadata)
      VALUES (p_stream_id, v_version, true, jsonb_build_object('truncateBefore', (v_version + 1)::text))
      ON CONFLICT (tenant_id, stream_id) DO UPDATE
        SET soft_deleted = true, metadata = s.metadata || jsonb_build_object('truncateBefore', (v_version + 1)::text);
  END IF;
END
`;
  const setMetadata = `
DECLARE${STREAM_VARIABLES}
BEGIN
  ${lockStream(lockSeed)}
  ${readStream(s)}
  INSERT INTO ${s}.streams AS s (stream_id, metadata) VALUES (p_stream_id, p_metadata)
    ON CONFLICT (tenant_id, stream_id) DO UPDATE SET metadata = excluded.metadata;
END
`;
  return `
CREATE FUNCTION ${s}.append(
  p_stream_id text,
  p_expected_kind smallint,
  p_expected_version bigint,
  p_ids uuid[],
  p_types text[],
  p_schema_versions integer[],
  -- Data and metadata as one JSON array each: no array literal to escape on the way in.
  p_data jsonb,
  p_metadata jsonb,
  p_correlation_ids text[],
  p_causation_ids text[],
  p_time timestamptz,
  p_source text,
  p_ids_given boolean,
  OUT first_position bigint,
  OUT first_version bigint,
  OUT idempotent boolean
) LANGUAGE plpgsql AS ${dollarQuoted(append)};

CREATE FUNCTION ${s}.delete_stream(
  p_stream_id text,
  p_expected_kind smallint,
  p_expected_version bigint,
  p_hard boolean
) RETURNS void LANGUAGE plpgsql AS ${dollarQuoted(deleteStream)};

CREATE FUNCTION ${s}.set_stream_metadata(p_stream_id text, p_metadata jsonb)
RETURNS void LANGUAGE plpgsql AS ${dollarQuoted(setMetadata)};
`;
}
