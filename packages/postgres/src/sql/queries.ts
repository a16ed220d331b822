/**
 * Every statement the store runs after migrations, prepared by name on each connection. Tables are
 * filtered to the session's tenant by row-level security, so no statement names a tenant.
 */
import type { StoreNames } from '../names.js';
import { DEFAULT_SOURCE } from '../options.js';

export interface Statement {
  /** Prepared-statement name, unique per schema and text. */
  readonly name: string;
  readonly text: string;
}

/**
 * The usual values of three columns travel as NULL, which costs node-postgres no string and no
 * parser call (`rows.ts` puts them back): schema version 1, metadata `{}`, the default source.
 */
const SCHEMA_VERSION = 'nullif(schema_version, 1) AS schema_version';
const METADATA = "nullif(metadata, '{}'::jsonb) AS metadata";
const SOURCE = `nullif(source, '${DEFAULT_SOURCE}') AS source`;

/** An event of the log, in the order `eventFromRow` reads it. */
const EVENT_COLUMNS = `position, id, stream_id, stream_version, type, ${SCHEMA_VERSION}, data, ${METADATA}, correlation_id, causation_id, time, ${SOURCE}`;

/** A stream's events without the stream id, which is the one asked for (`eventFromStreamRow`): one field less to decode per row. */
const STREAM_EVENT_COLUMNS = `position, id, stream_version, type, ${SCHEMA_VERSION}, data, ${METADATA}, correlation_id, causation_id, time, ${SOURCE}`;

/** The texts of the reads, for a column list: whole reads use the lists above, reads with `fields` their own. */
function readTexts(s: string) {
  const streamEvents = (direction: 'ASC' | 'DESC', stream: string, columns: string) =>
    `SELECT ${columns} FROM ${s}.events
     WHERE stream_id = ${stream} AND stream_version >= $2 AND stream_version <= $3
     ORDER BY stream_version ${direction} LIMIT $4`;
  return {
    streamBatch: (direction: 'ASC' | 'DESC', columns = STREAM_EVENT_COLUMNS) => streamEvents(direction, '$1', columns),
    // The stream's row and its first batch in one round trip: most reads need nothing more.
    streamStart: (direction: 'ASC' | 'DESC', columns = STREAM_EVENT_COLUMNS) =>
      `SELECT s.version, s.tombstoned, s.metadata::text, e.*
       FROM ${s}.streams s LEFT JOIN LATERAL (${streamEvents(direction, 's.stream_id', columns)}) e ON true
       WHERE s.stream_id = $1`,
    log: (columns = EVENT_COLUMNS) => `SELECT ${columns} FROM ${s}.read_log($1, $2, $3, $4)`,
    category: (columns = EVENT_COLUMNS) => `SELECT ${columns} FROM ${s}.read_category($1, $2, $3, $4)`,
    partitionLog: (columns = EVENT_COLUMNS) => `SELECT ${columns} FROM ${s}.read_partition($1, $2, $3, $4, $5, $6)`,
  };
}

/** A read limited to some columns: `key` names the column list, `columns` is it (`field-rows.ts`). */
export interface ColumnList {
  readonly key: string;
  readonly columns: string;
}

// Field lists come from callers; past this many column lists, reads are parsed unnamed each time
// instead of adding prepared statements to every connection without bound.
const MAX_NAMED_COLUMN_LISTS = 64;

/** The reads with `fields`, per column list. */
export interface FieldReads {
  streamStart(list: ColumnList, backwards: boolean): Statement;
  stream(list: ColumnList, backwards: boolean): Statement;
  log(list: ColumnList): Statement;
  category(list: ColumnList): Statement;
  partitionLog(list: ColumnList): Statement;
}

function fieldReadsFor(s: string, p: string): FieldReads {
  const texts = readTexts(s);
  const named = new Set<string>();
  const name = (read: string, list: ColumnList): string => {
    if (!named.has(list.key)) {
      if (named.size >= MAX_NAMED_COLUMN_LISTS) return '';
      named.add(list.key);
    }
    return `${p}${read}_f${list.key}`;
  };
  return {
    streamStart: (list, backwards) => ({
      name: name(backwards ? 'stream_start_bwd' : 'stream_start_fwd', list),
      text: texts.streamStart(backwards ? 'DESC' : 'ASC', list.columns),
    }),
    stream: (list, backwards) => ({
      name: name(backwards ? 'stream_bwd' : 'stream_fwd', list),
      text: texts.streamBatch(backwards ? 'DESC' : 'ASC', list.columns),
    }),
    log: (list) => ({ name: name('log', list), text: texts.log(list.columns) }),
    category: (list) => ({ name: name('category', list), text: texts.category(list.columns) }),
    partitionLog: (list) => ({ name: name('partition_log', list), text: texts.partitionLog(list.columns) }),
  };
}

export function queriesFor(names: StoreNames) {
  const { qschema: s, statementPrefix: p } = names;
  const statement = (name: string, text: string): Statement => ({ name: p + name, text });
  const { streamBatch, streamStart, ...texts } = readTexts(s);

  return {
    /** Called as a scalar (no function scan): the row's one value is the record `(position,version,idempotent)`. */
    append: statement('append', `SELECT ${s}.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`),
    /**
     * A group's appends in one statement (one round trip; in autocommit also one commit), each
     * through `append_or_error` so that a failure undoes only its own append. The appends'
     * events travel as flat arrays sliced by offset and count, their data and metadata as one
     * JSON array of per-append arrays. The nested loop over the ordinality calls them in order
     * (appends to one stream must run as queued); `n` lets the caller check that order.
     */
    appendGroup: statement(
      'append_group',
      `SELECT r.first_position, r.first_version, r.idempotent, r.recorded_time,
              r.error_code, r.error_message, r.error_detail, r.error_constraint, a.n
       FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::integer[], $5::integer[],
                   $13::timestamptz[], $14::text[], $15::boolean[])
            WITH ORDINALITY AS a(stream_id, kind, version, off, cnt, at, source, ids_given, n)
       CROSS JOIN LATERAL ${s}.append_or_error(
         a.stream_id, a.kind, a.version,
         ($6::uuid[])[a.off + 1 : a.off + a.cnt], ($7::text[])[a.off + 1 : a.off + a.cnt],
         ($8::integer[])[a.off + 1 : a.off + a.cnt],
         $9::jsonb -> (a.n::integer - 1), $10::jsonb -> (a.n::integer - 1),
         ($11::text[])[a.off + 1 : a.off + a.cnt], ($12::text[])[a.off + 1 : a.off + a.cnt],
         a.at, a.source, a.ids_given) r`,
    ),
    /** The events an exact retry had recorded, to answer it as the first time. */
    recorded: statement('recorded', streamBatch('ASC')),
    deleteStream: statement('delete_stream', `SELECT ${s}.delete_stream($1, $2, $3, $4)`),
    streamStartForwards: statement('stream_start_fwd', streamStart('ASC')),
    streamStartBackwards: statement('stream_start_bwd', streamStart('DESC')),
    streamForwards: statement('stream_fwd', streamBatch('ASC')),
    streamBackwards: statement('stream_bwd', streamBatch('DESC')),
    /** The log's readers take: from, types, prefixes (or the category), limit[, partition count, index]. */
    log: statement('log', texts.log()),
    /** Streams `category-…` through the category index; only for categories without '-'. */
    category: statement('category', texts.category()),
    /** The log of one partition of a consumer group. */
    partitionLog: statement('partition_log', texts.partitionLog()),
    /** The same reads, with `fields`. */
    fields: fieldReadsFor(s, p),
    headPosition: statement('head', `SELECT ${s}.head_position()`),
    /** On opening: the tenant's wake-up channel (made on first use) and its head, to check the headroom. */
    openTenant: statement('open_tenant', `SELECT ${s}.tenant_channel(), ${s}.head_position()`),
    streamInfo: statement(
      'stream_info',
      `SELECT version, soft_deleted, tombstoned, metadata::text FROM ${s}.streams WHERE stream_id = $1`,
    ),
    setStreamMetadata: statement('set_metadata', `SELECT ${s}.set_stream_metadata($1, $2)`),
    loadCheckpoint: statement('checkpoint_load', `SELECT position FROM ${s}.checkpoints WHERE subscription_id = $1`),
    storeCheckpoint: statement(
      'checkpoint_store',
      `INSERT INTO ${s}.checkpoints AS c (subscription_id, position) VALUES ($1, $2)
       ON CONFLICT (tenant_id, subscription_id) DO UPDATE SET position = excluded.position, updated_at = now()`,
    ),
    loadSnapshot: statement(
      'snapshot_load',
      `SELECT version, schema_version, state, time FROM ${s}.snapshots WHERE stream_id = $1`,
    ),
    saveSnapshot: statement(
      'snapshot_save',
      `INSERT INTO ${s}.snapshots AS n (stream_id, version, schema_version, state, time) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, stream_id) DO UPDATE
         SET version = excluded.version, schema_version = excluded.schema_version, state = excluded.state, time = excluded.time
         WHERE n.version <= excluded.version`,
    ),
    deleteSnapshot: statement('snapshot_delete', `DELETE FROM ${s}.snapshots WHERE stream_id = $1`),
    // Consumer groups' statements: groupStatements in groups.ts (migration 4).
  };
}

export type Queries = ReturnType<typeof queriesFor>;
