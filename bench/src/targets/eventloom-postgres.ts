/** Eventloom's PostgreSQL store in its own schema, with a pool as large as the raw anchor's. */
import { openPostgresEventStore } from '@eventloom/postgres';
import pg from 'pg';
import type { BenchTarget, TargetResource } from '../target.js';
import { eventloomTarget } from './eventloom-store.js';
import { oldestOpenTransaction } from './pg-diagnostics.js';

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'postgres') throw new Error('eventloom-postgres needs a PostgreSQL resource');
  const store = await openPostgresEventStore({
    connectionString: resource.connectionString,
    schema: resource.schema,
    poolSize: resource.poolSize,
  });
  // Counted as the connecting (super)user, past row-level security: what is really in the table.
  const count = async (): Promise<number> => {
    const client = new pg.Client({ connectionString: resource.connectionString });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${resource.schema}".events WHERE NOT tombstoned`);
      return Number(rows[0]!.n);
    } finally {
      await client.end();
    }
  };
  return { ...eventloomTarget(store, count), diagnose: () => oldestOpenTransaction(resource.connectionString) };
}
