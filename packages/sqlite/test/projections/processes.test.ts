/** The multi-process projection suite of @eventloom/testing on one SQLite file: read models in the events' file. */
import { fileURLToPath } from 'node:url';
import { runProjectionProcessConformance } from '@eventloom/testing';
import { openSqliteEventStore, openSqliteReadModels } from '../../src/index.js';
import { tempDir } from './temp-dir.js';

const OPEN_STORES = fileURLToPath(new URL('./fixtures/open-stores.ts', import.meta.url));

runProjectionProcessConformance({
  name: 'sqlite',
  create: async () => {
    const dir = tempDir();
    const filename = dir.file('app.db');
    const eventStore = openSqliteEventStore({ filename, durability: 'normal' });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    return { eventStore, readModels, child: { module: OPEN_STORES, env: { filename } }, cleanup: async () => dir.remove() };
  },
});
