/** The shared read-model and projection conformance suites, on a fresh SQLite file per test: read models in the events' file. */
import { runProjectionConformance, runReadModelStoreConformance } from '@eventloom/testing';
import { openSqliteEventStore, openSqliteReadModels, type SqliteReadModelStore } from '../../src/index.js';
import { tempDir } from './temp-dir.js';

runReadModelStoreConformance({
  name: 'sqlite',
  create: async () => {
    const dir = tempDir();
    const readModels = openSqliteReadModels({ filename: dir.file('read-models.db') });
    // Another connection to the file, as another process has: its commits are seen by polling data_version.
    return { readModels, peer: async () => openSqliteReadModels({ filename: dir.file('read-models.db') }), cleanup: async () => dir.remove() };
  },
});

runProjectionConformance({
  name: 'sqlite',
  create: async (options) => {
    const dir = tempDir();
    const eventStore = openSqliteEventStore({ filename: dir.file('app.db'), durability: 'normal', ...(options?.clock && { clock: options.clock }) });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    return { eventStore, readModels, cleanup: async () => dir.remove() };
  },
  refuseDocument: async ({ readModels }, id) => {
    const quoted = `'${id.replaceAll("'", "''")}'`;
    (readModels as SqliteReadModelStore).database.exec(
      `CREATE TRIGGER refuse_one BEFORE INSERT ON rm_documents WHEN NEW.id = ${quoted} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
  },
});
