/**
 * Migration 1, part 3: the reads of the global log, as SQL functions. Each walks the position
 * index in order and stops at its limit. They are functions so that they can carry planner
 * settings: on a table autovacuum has not analyzed yet (any fresh deployment, any bulk load) the
 * planner takes a position range for a handful of rows and would rather bitmap-scan and sort the
 * whole rest of the log for every page — quadratic in the log's length. (Stream reads need no
 * such help: equality on the stream leads the planner to its index. They stay plain statements,
 * which are cheaper per call.)
 */
import type { StoreNames } from '../names.js';

/** The columns every read returns, in the order `rows.ts` maps them. */
export const EVENT_TABLE = `TABLE ("position" bigint, id uuid, stream_id text, stream_version bigint, type text,
  schema_version integer, data jsonb, metadata jsonb, correlation_id text, causation_id text, "time" timestamptz, source text)`;

/** Every column of `e` (the events table), in the order of `EVENT_TABLE`. */
export const E_COLUMNS = `e.position, e.id, e.stream_id, e.stream_version, e.type, e.schema_version, e.data, e.metadata,
    e.correlation_id, e.causation_id, e.time, e.source`;

/** Walk the index in order; a sort of everything from the cursor on is never the cheaper plan here. */
export const ORDERED_READ = 'LANGUAGE sql STABLE SET enable_bitmapscan = off SET enable_sort = off';

/**
 * History (migrations 1 and 2 only): the log was read only below the oldest transaction in flight
 * on the server, because positions carried the xid of their transaction. Migration 3
 * (`log-heads.ts`) replaced these readers with ones that need no bound.
 */
export const SAFE_POSITION_BOUND = '(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)';

/** Filters shared by the log's readers; NULL means no filter. */
export const LOG_FILTERS = `NOT e.tombstoned
    AND (p_types IS NULL OR e.type = ANY (p_types))
    AND (p_prefixes IS NULL OR e.stream_id ^@ ANY (p_prefixes))`;

export function readsSql({ qschema: s }: StoreNames): string {
  return `
CREATE FUNCTION ${s}.read_log(p_from bigint, p_types text[], p_prefixes text[], p_limit integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE e.position >= p_from AND e.position < ${SAFE_POSITION_BOUND} AND ${LOG_FILTERS}
  ORDER BY e.position LIMIT p_limit;
END;

-- Streams category-…, through the category index; for categories without '-'.
CREATE FUNCTION ${s}.read_category(p_from bigint, p_types text[], p_category text, p_limit integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE split_part(e.stream_id, '-', 1) = p_category AND e.stream_id ^@ (p_category || '-')
    AND e.position >= p_from AND e.position < ${SAFE_POSITION_BOUND}
    AND NOT e.tombstoned AND (p_types IS NULL OR e.type = ANY (p_types))
  ORDER BY e.position LIMIT p_limit;
END;

CREATE FUNCTION ${s}.head_position() RETURNS bigint ${ORDERED_READ}
BEGIN ATOMIC
  SELECT coalesce(max(e.position), 0) FROM ${s}.events e WHERE e.position < ${SAFE_POSITION_BOUND};
END;
`;
}

/** Migration 2's reader: the log of one partition of a consumer group. */
export function partitionReadSql({ qschema: s }: StoreNames): string {
  return `
CREATE FUNCTION ${s}.read_partition(p_from bigint, p_types text[], p_prefixes text[], p_limit integer, p_count integer, p_index integer)
RETURNS ${EVENT_TABLE} ${ORDERED_READ}
BEGIN ATOMIC
  SELECT ${E_COLUMNS} FROM ${s}.events e
  WHERE e.position >= p_from AND e.position < ${SAFE_POSITION_BOUND} AND ${LOG_FILTERS}
    AND ${s}.partition_of(e.stream_id, p_count) = p_index
  ORDER BY e.position LIMIT p_limit;
END;`;
}

/** Grants for the functions above. */
export function readGrants(qschema: string, qrole: string): string {
  return `GRANT EXECUTE ON FUNCTION ${qschema}.read_log, ${qschema}.read_category, ${qschema}.head_position TO ${qrole};`;
}
