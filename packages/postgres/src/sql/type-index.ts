/**
 * Migration 8: reads filtered by event type go through an index of (tenant, type, position).
 *
 * Before, `read_log` walked the whole log in position order and dropped the other types' rows:
 * a projection of a rare type read every event of the log to find its own, and a rebuild reading
 * one type of three was only 1.13× faster than reading all three. Now each type asked for is an
 * index range from the cursor on, and the ranges are merged in position order by a Merge Append
 * that stops at the page's limit: no type's range is read further than the page needs.
 *
 * A plan with one branch per type cannot be written for an array of any length, so the filtered
 * read builds its UNION ALL as text and runs it with EXECUTE (planned each call, ~0.1 ms against
 * a page of hundreds of rows). The types travel as parameters, never as text in the query.
 * Unfiltered reads stay a static statement.
 *
 * The price: one more index entry per event on every append.
 */
import type { StoreNames } from '../names.js';
import { dollarQuoted } from './functions.js';
import { E_COLUMNS, EVENT_TABLE, LOG_FILTERS } from './reads.js';

/** Types asked for beyond this many are read by a walk of the log: a merge of dozens of ranges costs more than it saves. */
export const MAX_INDEXED_TYPES = 16;

/**
 * One type's branch as a SQL string literal for `format`, `%s` standing for the type's subscript.
 * The schema's name may hold quotes and percent signs: both are escaped, not interpolated raw.
 */
function branchTemplate(s: string): string {
  const [before, after] = [
    `(SELECT ${E_COLUMNS.replace(/\n\s*/g, ' ')} FROM ${s}.events e WHERE e.type = ($2)[`,
    `] AND e.position >= $1 AND NOT e.tombstoned AND ($3 IS NULL OR e.stream_id ^@ ANY ($3)) ORDER BY e.position LIMIT $4)`,
  ].map((part) => part.replace(/%/g, '%%'));
  return `'${`${before}%s${after}`.replace(/'/g, "''")}'`;
}

export function typeIndexSql({ qschema: s }: StoreNames): string {
  const body = `
DECLARE
  v_query text;
  v_types text[];
BEGIN
  -- Repeats would be read twice: one branch per distinct type.
  v_types := ARRAY(SELECT DISTINCT t FROM unnest(p_types) AS t WHERE t IS NOT NULL);
  IF p_types IS NULL OR cardinality(v_types) > ${MAX_INDEXED_TYPES} THEN
    RETURN QUERY
      SELECT ${E_COLUMNS} FROM ${s}.events e
      WHERE e.position >= p_from AND ${LOG_FILTERS}
      ORDER BY e.position LIMIT p_limit;
    RETURN;
  END IF;
  IF cardinality(v_types) = 0 THEN
    RETURN;
  END IF;
  SELECT string_agg(format(${branchTemplate(s)}, i), ' UNION ALL ')
    INTO v_query
    FROM generate_subscripts(v_types, 1) AS i;
  -- One branch is the whole read; several are merged (a branch in parentheses takes no second ORDER BY).
  IF cardinality(v_types) > 1 THEN
    v_query := v_query || ' ORDER BY 1 LIMIT $4';
  END IF;
  RETURN QUERY EXECUTE v_query USING p_from, v_types, p_prefixes, p_limit;
END`;
  return `
-- Ends with the position, so one type's events are a range in log order.
-- IF NOT EXISTS: a DBA may have built it beforehand with CREATE INDEX CONCURRENTLY, holding no appends.
CREATE INDEX IF NOT EXISTS events_type_idx ON ${s}.events (tenant_id, type, position);

CREATE OR REPLACE FUNCTION ${s}.read_log(p_from bigint, p_types text[], p_prefixes text[], p_limit integer)
RETURNS ${EVENT_TABLE}
LANGUAGE plpgsql STABLE SET enable_bitmapscan = off SET enable_sort = off
AS ${dollarQuoted(body)};
`;
}
