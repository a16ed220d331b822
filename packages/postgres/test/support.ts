/** Test support: a fresh, uniquely named schema per store, dropped afterwards. */
import { POSTGRES, serviceOrSkip, serviceUrl } from '@eventloom/testing';
import pg from 'pg';
import { dropPostgresEventStore, openPostgresEventStore, type PostgresEventStore, type PostgresEventStoreOptions } from '../src/index.js';

/** The server's URL, or undefined (after a loud warning) when it is not reachable and not required. */
export const postgresUrl = await serviceOrSkip(POSTGRES);
export const connectionString = postgresUrl ?? serviceUrl(POSTGRES);

let counter = 0;

/** A schema name no other test, file or process uses. */
export function uniqueSchema(prefix = 'elt'): string {
  counter++;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

export interface TestStore {
  readonly store: PostgresEventStore;
  readonly schema: string;
  cleanup(): Promise<void>;
}

/** Opens a store in a new schema; `cleanup` closes it and drops schema and role. */
export async function openTestStore(options: Partial<PostgresEventStoreOptions> = {}): Promise<TestStore> {
  const schema = options.schema ?? uniqueSchema();
  const store = await openPostgresEventStore({ connectionString, poolSize: 4, ...options, schema });
  return {
    store,
    schema,
    async cleanup() {
      await store.close();
      await dropPostgresEventStore({ connectionString, schema });
    },
  };
}

/** A connection as the server's superuser (bypasses row-level security): to look behind the store's back. */
export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
