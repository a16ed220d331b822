/**
 * Readers that stop below the oldest transaction in flight (Emmett's does, cluster-wide) are held
 * back by any long transaction on the server, even one of another application. When such a
 * reader comes up short, this names the culprit.
 */
import pg from 'pg';

export async function oldestOpenTransaction(connectionString: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; state: string; seconds: number; query: string }>(`
      SELECT pid, state, extract(epoch FROM now() - xact_start)::int AS seconds, left(query, 80) AS query
      FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
      ORDER BY xact_start LIMIT 1`);
    const row = rows[0];
    return row && row.seconds >= 1
      ? `oldest open transaction on the server: pid ${row.pid}, ${row.state}, open ${row.seconds} s (${row.query})`
      : undefined;
  } finally {
    await client.end();
  }
}

/**
 * Unrelated work elsewhere on the server: a session in the `postgres` database that wrote (so it
 * holds a transaction id) and sits idle in its transaction until released.
 */
export async function holdUnrelatedTransaction(connectionString: string): Promise<() => Promise<void>> {
  const url = new URL(connectionString);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query('CREATE TEMP TABLE eventloom_bench_held (x int)');
  await client.query('INSERT INTO eventloom_bench_held VALUES (1)');
  return async () => {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  };
}
