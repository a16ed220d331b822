/**
 * The PostgreSQL anchor: `pg` doing the inserts an event store must do, as one statement per
 * append (one round trip, one commit): the stream's version is checked and bumped in a streams
 * table and the events inserted in the same statement, into a table with the envelope's columns
 * and the same unique keys and category index as Eventloom's (but no tenant column or
 * row-level security, and a plain sequence for positions). Default durability (fsync,
 * synchronous_commit on); a pool of `poolSize` connections, so concurrent writers get their own.
 */
import pg from 'pg';
import { uuidv7 } from '@eventloom/core';
import { holdUnrelatedTransaction, oldestOpenTransaction } from './pg-diagnostics.js';
import type { AppendOutcome, BenchEventInput, BenchTarget, Expectation, FoldEvent, LiveSubscription, ReadEvent, ScanEvent, TargetResource } from '../target.js';

interface EventRow {
  position: string;
  id: string;
  stream_id: string;
  stream_version: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  correlation_id: string;
  causation_id: string | null;
  time: Date;
}

/** Every envelope column: a store's reader returns them all. */
const COLUMNS = 'position, id, stream_id, stream_version, type, schema_version, data, metadata, correlation_id, causation_id, time';

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'postgres') throw new Error('raw-pg needs a PostgreSQL resource');
  const s = `"${resource.schema}"`;
  const pool = new pg.Pool({ connectionString: resource.connectionString, max: resource.poolSize });
  await pool.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.streams (
      stream_id text PRIMARY KEY,
      version bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${s}.events (
      position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      stream_id text NOT NULL,
      stream_version bigint NOT NULL,
      type text NOT NULL,
      schema_version integer NOT NULL,
      data jsonb NOT NULL,
      metadata jsonb NOT NULL,
      correlation_id text NOT NULL,
      causation_id text,
      time timestamptz NOT NULL,
      source text NOT NULL,
      UNIQUE (stream_id, stream_version)
    );
    CREATE INDEX IF NOT EXISTS events_category_idx ON ${s}.events (split_part(stream_id, '-', 1), position);`);

  const channel = `${resource.schema}_appended`;
  let notify = false;

  const heads: Record<Expectation['kind'], string> = {
    no_stream: `INSERT INTO ${s}.streams (stream_id, version) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING version`,
    version: `UPDATE ${s}.streams SET version = version + $2 WHERE stream_id = $1 AND version = $6 RETURNING version`,
    any: `INSERT INTO ${s}.streams AS st (stream_id, version) VALUES ($1, $2)
          ON CONFLICT (stream_id) DO UPDATE SET version = st.version + EXCLUDED.version RETURNING version`,
  };
  const statement = (kind: Expectation['kind']): string => `
    WITH head AS (${heads[kind]}),
    ins AS (
      INSERT INTO ${s}.events (id, stream_id, stream_version, type, schema_version, data, metadata, correlation_id, time, source)
      SELECT e.id, $1, head.version - $2 + e.ord, e.type, 1, e.data, '{}', e.id::text, now(), 'bench'
      FROM head, unnest($3::uuid[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS e(id, type, data, ord)
      RETURNING position
    )
    SELECT (SELECT version FROM head) AS version, (SELECT max(position) FROM ins) AS position
    ${notify ? `, pg_notify('${channel}', '')` : ''}`;

  const append = async (streamId: string, events: readonly BenchEventInput[], expectation: Expectation): Promise<AppendOutcome> => {
    const kind = expectation.kind === 'version' && expectation.version === 0n ? 'no_stream' : expectation.kind;
    const ids = events.map(() => uuidv7());
    const params: unknown[] = [streamId, events.length, ids, events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))];
    if (kind === 'version') params.push((expectation as { version: bigint }).version.toString());
    const { rows } = await pool.query<{ version: string | null }>(statement(kind), params);
    const version = rows[0]?.version;
    return version === null || version === undefined ? { ok: false, conflict: true } : { ok: true, nextVersion: BigInt(version) };
  };

  const version = async (streamId: string): Promise<bigint> => {
    const { rows } = await pool.query<{ version: string }>(`SELECT version FROM ${s}.streams WHERE stream_id = $1`, [streamId]);
    return BigInt(rows[0]?.version ?? 0);
  };

  const page = (after: bigint, limit: number): Promise<pg.QueryResult<EventRow>> =>
    pool.query<EventRow>(`SELECT ${COLUMNS} FROM ${s}.events WHERE position > $1 ORDER BY position LIMIT $2`, [after.toString(), limit]);

  return {
    append,
    currentVersion: (streamId) => version(streamId),
    recordedHead: (streamId) => version(streamId),
    async readStream(streamId, visit) {
      const { rows } = await pool.query<EventRow>(
        `SELECT ${COLUMNS} FROM ${s}.events WHERE stream_id = $1 ORDER BY stream_version`,
        [streamId],
      );
      for (const row of rows) visit(view(row));
    },
    async readAll(batchSize, visit) {
      let after = 0n;
      for (;;) {
        const { rows } = await page(after, batchSize);
        for (const row of rows) visit(view(row));
        if (rows.length < batchSize) return;
        after = BigInt(rows[rows.length - 1]!.position);
      }
    },
    // The equal work of Eventloom's reads with fields, in the columns the caller asked for
    // (Eventloom's stream read also fetches the time, for its streams' maxAgeSeconds).
    async foldStream(streamId, visit) {
      const { rows } = await pool.query<{ stream_version: string; type: string; data: unknown; metadata: unknown }>(
        `SELECT stream_version, type, data, metadata FROM ${s}.events WHERE stream_id = $1 ORDER BY stream_version`,
        [streamId],
      );
      for (const row of rows) visit({ type: row.type, data: row.data, metadata: row.metadata, streamVersion: BigInt(row.stream_version) } as FoldEvent);
    },
    async scanLog(batchSize, visit) {
      let after = 0n;
      for (;;) {
        const { rows } = await pool.query<{ position: string; data: unknown }>(
          `SELECT position, data FROM ${s}.events WHERE position > $1 ORDER BY position LIMIT $2`,
          [after.toString(), batchSize],
        );
        for (const row of rows) visit({ position: BigInt(row.position), data: row.data } as ScanEvent);
        if (rows.length < batchSize) return;
        after = BigInt(rows[rows.length - 1]!.position);
      }
    },
    async countEvents() {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.events`);
      return Number(rows[0]!.n);
    },
    async subscribeLive(onEvent): Promise<LiveSubscription> {
      const listener = new pg.Client({ connectionString: resource.connectionString });
      await listener.connect();
      await listener.query(`LISTEN "${channel}"`);
      const { rows } = await pool.query<{ p: string | null }>(`SELECT max(position) AS p FROM ${s}.events`);
      let last = BigInt(rows[0]?.p ?? 0);
      let reading = false;
      let again = false;
      // One reader at a time; a wake-up during a read makes it read once more, so none is lost.
      const drain = async (): Promise<void> => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            const { rows: fresh } = await page(last, 1000);
            for (const row of fresh) {
              last = BigInt(row.position);
              onEvent(view(row));
            }
          } while (again);
        } finally {
          reading = false;
        }
      };
      listener.on('notification', () => {
        drain().catch((error: unknown) => console.error(`live read failed: ${(error as Error).message}`));
      });
      notify = true;
      return {
        async stop() {
          notify = false;
          await listener.end();
        },
      };
    },
    holdUnrelatedTransaction: () => holdUnrelatedTransaction(resource.connectionString),
    diagnose: () => oldestOpenTransaction(resource.connectionString),
    close: () => pool.end(),
  };
}

function view(row: EventRow): ReadEvent {
  return {
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    streamVersion: BigInt(row.stream_version),
    position: BigInt(row.position),
    time: row.time.toISOString(),
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    data: row.data,
    metadata: row.metadata,
  } as ReadEvent;
}
