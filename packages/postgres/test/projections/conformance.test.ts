/** The shared read-model and projection conformance suites on PostgreSQL: a fresh schema per test. */
import { runProjectionConformance, runReadModelStoreConformance } from '@eventloom/testing';
import type pg from 'pg';
import { describe } from 'vitest';
import { dropPostgresEventStore, openPostgresReadModels, type PostgresReadModelStore } from '../../src/index.js';
import { connectionString, openTestStores, ownerPool, postgresUrl, uniqueSchema } from './support.js';

describe.skipIf(!postgresUrl)('PostgreSQL read models', () => {
  runReadModelStoreConformance({
    name: 'postgres',
    create: async () => {
      const schema = uniqueSchema('elrm');
      const pool = ownerPool();
      const readModels = await openPostgresReadModels({ pool, schema });
      const peers: pg.Pool[] = [];
      return {
        readModels,
        // Another pool on the same schema, as another process would open it: only NOTIFY can wake it.
        peer: async () => {
          const peerPool = ownerPool();
          peers.push(peerPool);
          return openPostgresReadModels({ pool: peerPool, schema });
        },
        cleanup: async () => {
          for (const peerPool of peers) await peerPool.end();
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
    // As the tables' owner: the store's own role may not alter them.
    refuseDocument: async ({ readModels }, id) => {
      const { pool, schema } = readModels as PostgresReadModelStore;
      await pool.query(`ALTER TABLE "${schema}".rm_documents ADD CONSTRAINT refuse_one CHECK (id <> ${sqlString(id)})`);
    },
  });
});

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
