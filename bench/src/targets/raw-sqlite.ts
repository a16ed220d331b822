/**
 * The SQLite anchor: better-sqlite3 doing the inserts an event store must do, and nothing more —
 * one IMMEDIATE transaction per append, a streams table holding each stream's version for the
 * expected-version check, an events table with the same columns and indexes as Eventloom's
 * (so index upkeep costs both alike; schema version 4), WAL with synchronous=FULL.
 */
import Database from 'better-sqlite3';
import { uuidv7 } from '@eventloom/core';
import type { AppendOutcome, BenchEventInput, BenchTarget, Expectation, FoldEvent, ReadEvent, ScanEvent, TargetResource } from '../target.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    data           TEXT    NOT NULL,
    time           TEXT    NOT NULL,
    envelope       TEXT,
    UNIQUE (stream_id, stream_version)
  );
  CREATE INDEX IF NOT EXISTS events_by_type ON events (type);
  CREATE INDEX IF NOT EXISTS events_by_category ON events (category);
  CREATE TABLE IF NOT EXISTS streams (
    stream_id    TEXT    PRIMARY KEY,
    version      INTEGER NOT NULL DEFAULT 0,
    metadata     TEXT    NOT NULL DEFAULT '{}',
    soft_deleted INTEGER NOT NULL DEFAULT 0,
    tombstoned   INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
`;

/**
 * The columns Eventloom's reads fetch since its schema version 4: the rarely-set envelope parts
 * (schema version, metadata, correlation, causation, source) in one `envelope` column, NULL for
 * the defaults; a stream read does not fetch the stream id it asked for.
 */
const LOG_COLUMNS = 'position, id, stream_id, stream_version, type, data, time, envelope';
const STREAM_COLUMNS = 'position, id, stream_version, type, data, time, envelope';
/** The columns of Eventloom's reads with fields: W5's (what `loadState` asks for, plus the version it pages by) and W6's. */
const FOLD_COLUMNS = 'stream_version, type, data, envelope';
const SCAN_COLUMNS = 'position, data';
const STREAM_PAGE = 1_000;
type LogRow = [number, string, string, number, string, string, string, string | null];
type StreamRow = [number, string, number, string, string, string, string | null];
type Envelope = [number, Record<string, unknown>, string, string | null, string];

class Conflict extends Error {}

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('raw-sqlite needs a SQLite resource');
  const db = new Database(resource.filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);

  const selectVersion = db.prepare<[string], { version: number }>('SELECT version FROM streams WHERE stream_id = ?');
  const insertStream = db.prepare('INSERT INTO streams (stream_id, version) VALUES (?, ?)');
  const updateStream = db.prepare('UPDATE streams SET version = ? WHERE stream_id = ?');
  const insertEvent = db.prepare(
    // Every envelope part at its default (schema version 1, no metadata, correlated to itself, no cause), as the bench's events are.
    `INSERT INTO events (id, stream_id, category, stream_version, type, data, time, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  const selectStreamPage = db
    .prepare<[string, number, number], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version LIMIT ?`)
    .raw();
  const selectPage = db.prepare<[number, number], LogRow>(`SELECT ${LOG_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw();
  const countRows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');
  const selectFoldPage = db
    .prepare<[string, number, number], [number, string, string, string | null]>(
      `SELECT ${FOLD_COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version LIMIT ?`,
    )
    .raw();
  const selectScanPage = db
    .prepare<[number, number], [number, string]>(`SELECT ${SCAN_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`)
    .raw();

  const appendTx = db.transaction((streamId: string, events: readonly BenchEventInput[], expectation: Expectation): number => {
    const current = selectVersion.get(streamId)?.version;
    if (expectation.kind === 'no_stream' && current !== undefined) throw new Conflict();
    if (expectation.kind === 'version' && BigInt(current ?? 0) !== expectation.version) throw new Conflict();
    const base = current ?? 0;
    const next = base + events.length;
    if (current === undefined) insertStream.run(streamId, next);
    else updateStream.run(next, streamId);
    const time = new Date().toISOString();
    const dash = streamId.indexOf('-');
    const category = dash < 0 ? streamId : streamId.slice(0, dash);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const id = uuidv7();
      insertEvent.run(id, streamId, category, base + i + 1, event.type, JSON.stringify(event.data), time);
    }
    return next;
  });

  const version = (streamId: string): bigint => BigInt(selectVersion.get(streamId)?.version ?? 0);

  return {
    async append(streamId, events, expectation): Promise<AppendOutcome> {
      try {
        return { ok: true, nextVersion: BigInt(appendTx.immediate(streamId, events, expectation)) };
      } catch (error) {
        if (error instanceof Conflict) return { ok: false, conflict: true };
        throw error;
      }
    },
    currentVersion: async (streamId) => version(streamId),
    recordedHead: async (streamId) => version(streamId),
    async readStream(streamId, visit) {
      // Keyset pages, as a store must read (a stream may not fit in memory); .all() per page is
      // better-sqlite3's fastest way to fetch rows.
      let after = 0;
      for (;;) {
        const rows = selectStreamPage.all(streamId, after, STREAM_PAGE);
        for (const row of rows) visit(view(row[0], row[1], streamId, row[2], row[3], row[4], row[5], row[6]));
        if (rows.length < STREAM_PAGE) return;
        after = rows[rows.length - 1]![2];
      }
    },
    async readAll(batchSize, visit) {
      let after = 0;
      for (;;) {
        const rows = selectPage.all(after, batchSize);
        for (const row of rows) visit(view(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]));
        if (rows.length < batchSize) return;
        after = rows[rows.length - 1]![0];
      }
    },
    // The equal work of Eventloom's reads with fields: the same columns, decoded the same way.
    async foldStream(streamId, visit) {
      let after = 0;
      for (;;) {
        const rows = selectFoldPage.all(streamId, after, STREAM_PAGE);
        for (const [version, type, data, envelope] of rows) {
          const metadata = envelope === null ? {} : (JSON.parse(envelope) as Envelope)[1];
          visit({ type, data: JSON.parse(data) as unknown, metadata, streamVersion: BigInt(version) } as FoldEvent);
        }
        if (rows.length < STREAM_PAGE) return;
        after = rows[rows.length - 1]![0];
      }
    },
    async scanLog(batchSize, visit) {
      let after = 0;
      for (;;) {
        const rows = selectScanPage.all(after, batchSize);
        for (const [position, data] of rows) visit({ position: BigInt(position), data: JSON.parse(data) as unknown } as ScanEvent);
        if (rows.length < batchSize) return;
        after = rows[rows.length - 1]![0];
      }
    },
    countEvents: async () => countRows.get()!.n,
    async close() {
      db.close();
    },
  };
}

/** The whole envelope, decoded as a store's reader must (data and any envelope parsed). */
function view(position: number, id: string, streamId: string, version: number, type: string, data: string, time: string, envelope: string | null): ReadEvent {
  if (envelope === null) {
    return {
      id,
      type,
      schemaVersion: 1,
      streamId,
      streamVersion: BigInt(version),
      position: BigInt(position),
      time,
      source: 'eventloom',
      correlationId: id,
      causationId: null,
      data: JSON.parse(data) as unknown,
      metadata: {},
    } as ReadEvent;
  }
  const parts = JSON.parse(envelope) as Envelope;
  return {
    id,
    type,
    schemaVersion: parts[0],
    streamId,
    streamVersion: BigInt(version),
    position: BigInt(position),
    time,
    source: parts[4],
    correlationId: parts[2],
    causationId: parts[3],
    data: JSON.parse(data) as unknown,
    metadata: parts[1],
  } as ReadEvent;
}
