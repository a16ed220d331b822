/**
 * The SQLite anchor: better-sqlite3 doing the inserts an event store must do, and nothing more —
 * one IMMEDIATE transaction per append, a streams table holding each stream's version for the
 * expected-version check, an events table with the same columns and indexes as Eventloom's
 * (so index upkeep costs both alike), WAL with synchronous=FULL.
 */
import Database from 'better-sqlite3';
import { uuidv7 } from '@eventloom/core';
import type { AppendOutcome, BenchEventInput, BenchTarget, Expectation, ReadEvent, TargetResource } from '../target.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    data           TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    correlation_id TEXT    NOT NULL,
    causation_id   TEXT,
    time           TEXT    NOT NULL,
    source         TEXT    NOT NULL,
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

/** Every envelope column, in this order, as `.raw()` returns them. */
const COLUMNS = 'position, id, stream_id, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time, source';
const STREAM_PAGE = 1_000;
type EventRow = [number, string, string, number, string, number, string, string, string, string | null, string, string];

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
    `INSERT INTO events (id, stream_id, category, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time, source)
     VALUES (?, ?, ?, ?, ?, 1, ?, '{}', ?, NULL, ?, 'bench')`,
  );
  const selectStreamPage = db
    .prepare<[string, number, number], EventRow>(`SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version LIMIT ?`)
    .raw();
  const selectPage = db.prepare<[number, number], EventRow>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw();
  const countRows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');

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
      insertEvent.run(id, streamId, category, base + i + 1, event.type, JSON.stringify(event.data), id, time);
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
        for (const row of rows) visit(view(row));
        if (rows.length < STREAM_PAGE) return;
        after = rows[rows.length - 1]![3];
      }
    },
    async readAll(batchSize, visit) {
      let after = 0;
      for (;;) {
        const rows = selectPage.all(after, batchSize);
        for (const row of rows) visit(view(row));
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

/** The whole envelope, decoded as a store's reader must (data and metadata parsed). */
function view(row: EventRow): ReadEvent {
  const metadata = row[7];
  return {
    id: row[1],
    type: row[4],
    schemaVersion: row[5],
    streamId: row[2],
    streamVersion: BigInt(row[3]),
    position: BigInt(row[0]),
    time: row[10],
    source: row[11],
    correlationId: row[8],
    causationId: row[9],
    data: JSON.parse(row[6]) as unknown,
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata) as unknown),
  } as ReadEvent;
}
