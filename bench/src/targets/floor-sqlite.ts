/**
 * The SQLite floor: better-sqlite3 doing the least the workloads need, so the table shows how far
 * both Eventloom and the equal-work anchor are from what the driver can do. One narrow table
 * (position, stream, version, type, data), one plain (deferred) transaction per append with no
 * expected-version check, no streams table, no ids, no metadata; reads fetch the position and the
 * payload only and parse the payload. Same file settings as the others: WAL, synchronous=FULL.
 * It reports its position as the event's id (it stores none), so W6's distinct-id check still
 * counts what it read. It runs W2, W5 and W6 only: the other workloads need what it leaves out.
 */
import Database from 'better-sqlite3';
import type { AppendOutcome, BenchTarget, ReadEvent, TargetResource } from '../target.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    data           TEXT    NOT NULL,
    UNIQUE (stream_id, stream_version)
  );
`;

const STREAM_PAGE = 1_000;

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('floor-sqlite needs a SQLite resource');
  const db = new Database(resource.filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);

  const insertEvent = db.prepare('INSERT INTO events (stream_id, stream_version, type, data) VALUES (?, ?, ?, ?)');
  const head = db.prepare<[string], number>('SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = ?').pluck();
  const selectStreamPage = db
    .prepare<[string, number, number], [number, string]>('SELECT stream_version, data FROM events WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version LIMIT ?')
    .raw();
  const selectPage = db.prepare<[number, number], [number, string]>('SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT ?').raw();
  const countRows = db.prepare<[], number>('SELECT count(*) FROM events').pluck();

  // The workloads that run it append to new streams (W2, W6) or from the version they know (W5),
  // so the base version is the stream's head, read inside the transaction.
  const appendTx = db.transaction((streamId: string, events: readonly { type: string; data: unknown }[]): number => {
    const base = head.get(streamId)!;
    for (let i = 0; i < events.length; i++) insertEvent.run(streamId, base + i + 1, events[i]!.type, JSON.stringify(events[i]!.data));
    return base + events.length;
  });

  return {
    async append(streamId, events): Promise<AppendOutcome> {
      return { ok: true, nextVersion: BigInt(appendTx(streamId, events)) };
    },
    currentVersion: async (streamId) => BigInt(head.get(streamId)!),
    recordedHead: async (streamId) => BigInt(head.get(streamId)!),
    async readStream(streamId, visit) {
      let after = 0;
      for (;;) {
        const rows = selectStreamPage.all(streamId, after, STREAM_PAGE);
        for (const row of rows) visit({ data: JSON.parse(row[1]) as unknown } as ReadEvent);
        if (rows.length < STREAM_PAGE) return;
        after = rows[rows.length - 1]![0];
      }
    },
    async readAll(batchSize, visit) {
      let after = 0;
      for (;;) {
        const rows = selectPage.all(after, batchSize);
        for (const row of rows) visit({ id: row[0] as unknown as string, data: JSON.parse(row[1]) as unknown } as ReadEvent);
        if (rows.length < batchSize) return;
        after = rows[rows.length - 1]![0];
      }
    },
    countEvents: async () => countRows.get()!,
    async close() {
      db.close();
    },
  };
}
