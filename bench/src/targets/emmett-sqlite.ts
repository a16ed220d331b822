/**
 * Emmett's SQLite store (`@event-driven-io/emmett-sqlite`) configured as its README shows:
 * `getSQLiteEventStore({ fileName })`, which opens a connection per operation. Its connections
 * run WAL with SQLite's default synchronous=FULL, the same durability as the others.
 */
import { getSQLiteEventStore, readMessagesBatch, sqliteConnection } from '@event-driven-io/emmett-sqlite';
import type { BenchTarget, TargetResource } from '../target.js';
import { emmettStreamOps, view, type Recorded } from './emmett-common.js';


export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('emmett-sqlite needs a SQLite resource');
  const store = getSQLiteEventStore({ fileName: resource.filename });
  await store.schema.migrate();
  // Reading the log and inspecting the tables go through a connection of our own, as Emmett's consumer does.
  const connection = sqliteConnection({ fileName: resource.filename });

  return {
    ...emmettStreamOps(store),
    async recordedHead(streamId) {
      const row = await connection.querySingle<{ stream_position: number | bigint | string }>(
        'SELECT stream_position FROM emt_streams WHERE stream_id = ?',
        [streamId],
      );
      return row ? BigInt(row.stream_position) : 0n;
    },
    async readAll(batchSize, visit) {
      let after = 0n;
      for (;;) {
        const batch = await readMessagesBatch(connection, { after, batchSize });
        for (const event of batch.messages) visit(view(event as Recorded));
        if (!batch.areEventsLeft) return;
        after = batch.currentGlobalPosition;
      }
    },
    async countEvents() {
      const row = await connection.querySingle<{ n: number }>('SELECT count(*) AS n FROM emt_messages');
      return Number(row?.n ?? 0);
    },
    async close() {
      connection.close();
    },
  };
}
