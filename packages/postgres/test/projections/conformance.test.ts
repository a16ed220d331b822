/** The shared read-model and projection conformance suites on PostgreSQL: a fresh schema per test. */
import { runProjectionConformance, runReadModelStoreConformance } from '@eventloom/testing';
import { describe } from 'vitest';
import { dropPostgresEventStore, openPostgresReadModels } from '../../src/index.js';
import { connectionString, openTestStores, ownerPool, postgresUrl, uniqueSchema } from './support.js';

describe.skipIf(!postgresUrl)('PostgreSQL read models', () => {
  runReadModelStoreConformance({
    name: 'postgres',
    create: async () => {
      const schema = uniqueSchema('elrm');
      const pool = ownerPool();
      const readModels = await openPostgresReadModels({ pool, schema });
      return {
        readModels,
        cleanup: async () => {
          await pool.end();
          await dropPostgresEventStore({ connectionString, schema });
        },
      };
    },
  });

  runProjectionConformance({
    name: 'postgres',
    create: async (options) => {
      const stores = await openTestStores(options?.clock ? { clock: options.clock } : {});
      return { eventStore: stores.eventStore, readModels: stores.readModels, cleanup: () => stores.cleanup() };
    },
  });
});
