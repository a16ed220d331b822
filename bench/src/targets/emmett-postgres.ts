/**
 * Emmett's PostgreSQL store (`@event-driven-io/emmett-postgresql`) in a schema of its own (it
 * has no schema option, so the connection's search_path points there), on a pool as large as
 * the raw anchor's. The log is read with its own `readMessagesBatch`, the reader its consumers use.
 */
import { dumbo } from '@event-driven-io/dumbo';
import { getPostgreSQLEventStore, readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { holdUnrelatedTransaction, oldestOpenTransaction } from './pg-diagnostics.js';
import type { BenchTarget, LiveSubscription, TargetResource } from '../target.js';
import { emmettStreamOps, view, type Recorded } from './emmett-common.js';


export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'postgres') throw new Error('emmett-postgres needs a PostgreSQL resource');
  const connectionString = withSearchPath(resource.connectionString, resource.schema);
  const pool = new pg.Pool({ connectionString, max: resource.poolSize });
  const db = dumbo({ connectionString, pool });
  const store = getPostgreSQLEventStore(connectionString, { connectionOptions: { dumbo: db } });
  await store.schema.migrate();

  return {
    ...emmettStreamOps(store),
    async recordedHead(streamId) {
      const { rows } = await pool.query<{ stream_position: bigint | string }>(
        'SELECT stream_position FROM emt_streams WHERE stream_id = $1',
        [streamId],
      );
      return rows[0] ? BigInt(rows[0].stream_position) : 0n;
    },
    async readAll(batchSize, visit) {
      let after = 0n;
      for (;;) {
        const batch = await readMessagesBatch(db.execute, { after, batchSize });
        for (const event of batch.messages) visit(view(event as Recorded));
        if (!batch.areMessagesLeft) return;
        after = batch.currentGlobalPosition;
      }
    },
    async countEvents() {
      const { rows } = await pool.query<{ n: bigint | string }>('SELECT count(*) AS n FROM emt_messages');
      return Number(rows[0]!.n);
    },
    async subscribeLive(onEvent): Promise<LiveSubscription> {
      // Not startFrom 'END': 0.42's readLastMessageGlobalPosition returns the *first* message
      // (ORDER BY … LIMIT 1, ascending), so 'END' replays the whole log before going live. The
      // head is looked up here instead, which also keeps an append made while the consumer
      // starts from being skipped.
      const { rows } = await pool.query<{ head: bigint | string | null }>('SELECT max(global_position) AS head FROM emt_messages');
      const head = rows[0]?.head;
      const consumer = store.consumer();
      consumer.reactor({
        processorId: `bench-live-${Date.now().toString(36)}`,
        startFrom: { lastCheckpoint: head === null || head === undefined ? 0n : BigInt(head) },
        eachMessage: async (event) => {
          onEvent(view(event as unknown as Recorded));
        },
      });
      const running = consumer.start();
      running.catch(() => undefined);
      return {
        async stop() {
          await consumer.stop();
          await consumer.close();
        },
      };
    },
    holdUnrelatedTransaction: () => holdUnrelatedTransaction(resource.connectionString),
    diagnose: () => oldestOpenTransaction(resource.connectionString),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

/** Emmett's tables and functions are unqualified; `-c search_path` puts them in our schema. */
function withSearchPath(connectionString: string, schema: string): string {
  const url = new URL(connectionString);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}
