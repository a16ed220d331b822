/** The event store conformance suite, unchanged, on PostgreSQL: each store in a fresh schema, dropped afterwards. */
import { fileURLToPath } from 'node:url';
import { runEventStoreConformance } from '@eventloom/testing';
import { describe } from 'vitest';
import { openPostgresEventStore } from '../src/index.js';
import { connectionString, openTestStore, postgresUrl } from './support.js';

const OPEN_STORE = fileURLToPath(new URL('./fixtures/open-store.ts', import.meta.url));

describe.skipIf(!postgresUrl)('PostgresEventStore', () => {
  runEventStoreConformance({
    name: 'postgres',
    create: async (options) => {
      const { store, schema, cleanup } = await openTestStore({
        ...(options?.clock && { clock: options.clock }),
        ...(options?.schemas && { schemas: options.schemas }),
      });
      return {
        store,
        cleanup,
        // Another process on the schema: its own pool.
        reopen: () => openPostgresEventStore({ connectionString, schema, poolSize: 2 }),
        child: { module: OPEN_STORE, env: { connectionString, schema } },
      };
    },
  });
});
