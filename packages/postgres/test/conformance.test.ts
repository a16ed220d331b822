/** The event store conformance suite, unchanged, on PostgreSQL: each store in a fresh schema, dropped afterwards. */
import { runEventStoreConformance } from '@eventloom/testing';
import { describe } from 'vitest';
import { openTestStore, postgresUrl } from './support.js';

describe.skipIf(!postgresUrl)('PostgresEventStore', () => {
  runEventStoreConformance({
    name: 'postgres',
    create: async (options) => {
      const { store, cleanup } = await openTestStore({
        ...(options?.clock && { clock: options.clock }),
        ...(options?.schemas && { schemas: options.schemas }),
      });
      return { store, cleanup };
    },
  });
});
