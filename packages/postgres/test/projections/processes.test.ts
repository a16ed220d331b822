/** The multi-process projection suite of @eventloom/testing on one PostgreSQL schema: a fresh schema per test. */
import { fileURLToPath } from 'node:url';
import { runProjectionProcessConformance } from '@eventloom/testing';
import { describe } from 'vitest';
import { connectionString, openTestStores, postgresUrl } from './support.js';

const OPEN_STORES = fileURLToPath(new URL('./fixtures/open-stores.ts', import.meta.url));

describe.skipIf(!postgresUrl)('PostgreSQL projection processes', () => {
  runProjectionProcessConformance({
    name: 'postgres',
    create: async () => {
      const stores = await openTestStores();
      return { ...stores, child: { module: OPEN_STORES, env: { connectionString, schema: stores.schema } }, cleanup: () => stores.cleanup() };
    },
  });
});
