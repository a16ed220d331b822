/** Every statement the store runs, prepared once when the store opens. */
import type { Statement } from 'better-sqlite3';
import type { LogRow, StreamEventRow } from './event-row.js';
import type { SqliteDatabase } from './open-database.js';
import { LOAD_CHECKPOINT, STORE_CHECKPOINT } from './sql/checkpoints.js';
import { EVENT_TIME, FIND_EVENT_BY_ID, HEAD_POSITION, insertEvents, READ_STREAM_BACKWARDS, READ_STREAM_FORWARDS } from './sql/events.js';
import type { FieldRow } from './field-rows.js';
import { logQuery, type LogFilterInput } from './sql/log-query.js';
import { streamQuery } from './sql/stream-query.js';
import { DELETE_SNAPSHOT, LOAD_SNAPSHOT, SAVE_SNAPSHOT } from './sql/snapshots.js';
import { GET_STREAM, INSERT_STREAM, SET_STREAM_VERSION, SOFT_DELETE_STREAM, TOMBSTONE_STREAM, UPSERT_STREAM_METADATA } from './sql/streams.js';
import { BEGIN, COMMIT, RELEASE, ROLLBACK, ROLLBACK_TO, SAVEPOINT } from './sql/transactions.js';

/** A row of `streams`, as `.raw()` returns it. */
export type StreamRow = [version: number, metadata: string, softDeleted: number, tombstoned: number];

type Params = unknown[];

// Log filters and field lists come from callers; keep at most this many shapes of query prepared.
const MAX_LOG_QUERIES = 64;
const MAX_STREAM_QUERIES = 64;

/** A stream read limited to some columns, both ways. */
export interface StreamQueries {
  readonly forwards: Statement<Params, FieldRow>;
  readonly backwards: Statement<Params, FieldRow>;
}

/** The most events one insert statement carries (9 parameters each). */
export const MAX_ROWS_PER_INSERT = 16;

export class Statements {
  readonly begin: Statement<[]>;
  readonly commit: Statement<[]>;
  readonly rollback: Statement<[]>;
  readonly savepoint: Statement<[]>;
  readonly release: Statement<[]>;
  readonly rollbackTo: Statement<[]>;

  /** The log's head as a BigInt: an append gives its events the positions after it. */
  readonly logHead: Statement<[], bigint>;
  readonly findEventById: Statement<[string], [string, number]>;
  readonly eventTime: Statement<[string, number], string>;
  readonly readStreamForwards: Statement<Params, StreamEventRow>;
  readonly readStreamBackwards: Statement<Params, StreamEventRow>;
  readonly headPosition: Statement<[], number>;

  readonly getStream: Statement<[string], StreamRow>;
  readonly insertStream: Statement<[string, number]>;
  readonly setStreamVersion: Statement<[number, string]>;
  readonly upsertStreamMetadata: Statement<[string, string]>;
  readonly softDeleteStream: Statement<[string, string]>;
  readonly tombstoneStream: Statement<[string]>;

  readonly loadCheckpoint: Statement<[string], number | bigint>;
  readonly storeCheckpoint: Statement<[string, bigint, string]>;

  readonly loadSnapshot: Statement<[string], [number, number, string, string]>;
  readonly saveSnapshot: Statement<[string, bigint, number, string, string]>;
  readonly deleteSnapshot: Statement<[string]>;

  /** The file, for error messages. */
  readonly filename: string;
  readonly #db: SqliteDatabase;
  readonly #logQueries = new Map<string, Statement<Params, LogRow>>();
  readonly #streamQueries = new Map<string, StreamQueries>();
  readonly #inserts: Statement<Params>[] = [];

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.filename = db.name;
    this.begin = db.prepare(BEGIN);
    this.commit = db.prepare(COMMIT);
    this.rollback = db.prepare(ROLLBACK);
    this.savepoint = db.prepare(SAVEPOINT);
    this.release = db.prepare(RELEASE);
    this.rollbackTo = db.prepare(ROLLBACK_TO);

    this.logHead = db.prepare<[], bigint>(HEAD_POSITION).pluck().safeIntegers(true);
    this.findEventById = db.prepare<[string], [string, number]>(FIND_EVENT_BY_ID).raw();
    this.eventTime = db.prepare<[string, number], string>(EVENT_TIME).pluck();
    // Positions and versions arrive as BigInts from the driver, cheaper than BigInt() on each row's numbers.
    this.readStreamForwards = db.prepare<Params, StreamEventRow>(READ_STREAM_FORWARDS).raw().safeIntegers(true);
    this.readStreamBackwards = db.prepare<Params, StreamEventRow>(READ_STREAM_BACKWARDS).raw().safeIntegers(true);
    this.headPosition = db.prepare<[], number>(HEAD_POSITION).pluck();

    this.getStream = db.prepare<[string], StreamRow>(GET_STREAM).raw();
    this.insertStream = db.prepare(INSERT_STREAM);
    this.setStreamVersion = db.prepare(SET_STREAM_VERSION);
    this.upsertStreamMetadata = db.prepare(UPSERT_STREAM_METADATA);
    this.softDeleteStream = db.prepare(SOFT_DELETE_STREAM);
    this.tombstoneStream = db.prepare(TOMBSTONE_STREAM);

    this.loadCheckpoint = db.prepare<[string], number | bigint>(LOAD_CHECKPOINT).pluck().safeIntegers(true);
    this.storeCheckpoint = db.prepare(STORE_CHECKPOINT);

    this.loadSnapshot = db.prepare<[string], [number, number, string, string]>(LOAD_SNAPSHOT).raw();
    this.saveSnapshot = db.prepare(SAVE_SNAPSHOT);
    this.deleteSnapshot = db.prepare(DELETE_SNAPSHOT);
  }

  /** The insert of `rows` events (1 to MAX_ROWS_PER_INSERT), prepared on first use. */
  insertEvents(rows: number): Statement<Params> {
    return (this.#inserts[rows] ??= this.#db.prepare(insertEvents(rows)));
  }

  /** The prepared query of the log for `filter`, and the filter's parameters. */
  logQuery(filter: LogFilterInput | undefined): { statement: Statement<Params, LogRow>; params: readonly string[] };
  /** The same for a read of only `columns` (`field-rows.ts`). */
  logQuery(filter: LogFilterInput | undefined, columns: string): { statement: Statement<Params, FieldRow>; params: readonly string[] };
  logQuery(filter: LogFilterInput | undefined, columns?: string): { statement: Statement<Params, LogRow>; params: readonly string[] } {
    const query = logQuery(filter, columns);
    let statement = this.#logQueries.get(query.key);
    if (!statement) {
      if (this.#logQueries.size >= MAX_LOG_QUERIES) this.#logQueries.delete(this.#logQueries.keys().next().value!);
      statement = this.#db.prepare<Params, LogRow>(query.sql).raw().safeIntegers(true);
      this.#logQueries.set(query.key, statement);
    }
    return { statement, params: query.params };
  }

  /** Prepared reads of one stream fetching only `columns`, kept per column list. */
  streamQueries(columns: string): StreamQueries {
    let queries = this.#streamQueries.get(columns);
    if (!queries) {
      if (this.#streamQueries.size >= MAX_STREAM_QUERIES) this.#streamQueries.delete(this.#streamQueries.keys().next().value!);
      queries = {
        forwards: this.#db.prepare<Params, FieldRow>(streamQuery(columns, 'forwards')).raw().safeIntegers(true),
        backwards: this.#db.prepare<Params, FieldRow>(streamQuery(columns, 'backwards')).raw().safeIntegers(true),
      };
      this.#streamQueries.set(columns, queries);
    }
    return queries;
  }
}
