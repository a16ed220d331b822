/** The command handling conformance suite on PostgreSQL: each store in a fresh schema, dropped afterwards. */
import { runCommandHandlingConformance } from '@eventloom/testing';
import { describe } from 'vitest';
import { openTestStore, postgresUrl } from './support.js';

describe.skipIf(!postgresUrl)('PostgresEventStore', () => {
  runCommandHandlingConformance({
    name: 'postgres',
    create: async (options) => {
      const { store, cleanup } = await openTestStore({ poolSize: 2, ...(options?.clock && { clock: options.clock }) });
      return { store, cleanup };
    },
  });
});
