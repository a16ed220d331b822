/**
 * The PostgreSQL floor: `pg` doing the least the workloads need, so the table shows how far both
 * Eventloom and the equal-work anchor are from what the driver can do. One narrow table
 * (position, stream, version, type, data), each append one autocommitted INSERT of all its
 * events (versions from the expectation the workload passes, no streams table, no check, no ids);
 * reads fetch the position and the payload only (`pg` parses the jsonb). Default durability, the
 * same pool size as the others. It reports its position as the event's id (it stores none), so
 * W6's distinct-id check still counts what it read. It runs W2, W5 and W6 only.
 */
import pg from 'pg';
import type { AppendOutcome, BenchTarget, ReadEvent, TargetResource } from '../target.js';

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'postgres') throw new Error('floor-pg needs a PostgreSQL resource');
  const s = `"${resource.schema}"`;
  const pool = new pg.Pool({ connectionString: resource.connectionString, max: resource.poolSize });
  await pool.query(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.events (
      position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      stream_id text NOT NULL,
      stream_version bigint NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      UNIQUE (stream_id, stream_version)
    )`);
  const insert = `INSERT INTO ${s}.events (stream_id, stream_version, type, data)
    SELECT $1, $2::bigint + e.ord, e.type, e.data FROM unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS e(type, data, ord)`;
  const head = async (streamId: string): Promise<bigint> => {
    const { rows } = await pool.query<{ v: string }>(`SELECT coalesce(max(stream_version), 0) AS v FROM ${s}.events WHERE stream_id = $1`, [streamId]);
    return BigInt(rows[0]!.v);
  };

  return {
    async append(streamId, events, expectation): Promise<AppendOutcome> {
      const base = expectation.kind === 'version' ? expectation.version : expectation.kind === 'no_stream' ? 0n : await head(streamId);
      await pool.query(insert, [streamId, base.toString(), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))]);
      return { ok: true, nextVersion: base + BigInt(events.length) };
    },
    currentVersion: (streamId) => head(streamId),
    recordedHead: (streamId) => head(streamId),
    async readStream(streamId, visit) {
      const { rows } = await pool.query<{ data: unknown }>({ text: `SELECT data FROM ${s}.events WHERE stream_id = $1 ORDER BY stream_version`, values: [streamId] });
      for (const row of rows) visit(row as ReadEvent);
    },
    async readAll(batchSize, visit) {
      let after = '0';
      for (;;) {
        const { rows } = await pool.query<[string, unknown]>({
          text: `SELECT position, data FROM ${s}.events WHERE position > $1 ORDER BY position LIMIT $2`,
          values: [after, batchSize],
          rowMode: 'array',
        });
        for (const row of rows) visit({ id: row[0], data: row[1] } as ReadEvent);
        if (rows.length < batchSize) return;
        after = rows[rows.length - 1]![0];
      }
    },
    async countEvents() {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.events`);
      return Number(rows[0]!.n);
    },
    close: () => pool.end(),
  };
}
