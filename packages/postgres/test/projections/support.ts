/** Test support for read models: an event store and a read-model store in one fresh schema, dropped afterwards. */
import pg from 'pg';
import { openPostgresReadModels, type PostgresEventStore, type PostgresReadModelStore } from '../../src/index.js';
import { connectionString, openTestStore, postgresUrl, uniqueSchema } from '../support.js';

export { connectionString, postgresUrl, uniqueSchema };

export interface TestStores {
  readonly eventStore: PostgresEventStore;
  readonly readModels: PostgresReadModelStore;
  readonly schema: string;
  cleanup(): Promise<void>;
}

/** A pool of the server's owner user: the read models' tables are created by it. */
export function ownerPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 4 });
  pool.on('error', () => undefined);
  return pool;
}

export async function openTestStores(options: { clock?: () => Date; schema?: string } = {}): Promise<TestStores> {
  const { store: eventStore, schema, cleanup } = await openTestStore({
    schema: options.schema ?? uniqueSchema('elrm'),
    ...(options.clock && { clock: options.clock }),
  });
  const pool = ownerPool();
  let readModels: PostgresReadModelStore;
  try {
    readModels = await openPostgresReadModels({ pool, schema });
  } catch (error) {
    await pool.end();
    await cleanup();
    throw error;
  }
  return {
    eventStore,
    readModels,
    schema,
    async cleanup() {
      await readModels.close();
      await pool.end();
      await cleanup();
    },
  };
}
