/** The command handling conformance suite of @eventloom/testing, against a fresh SQLite file per test. */
import { runCommandHandlingConformance } from '@eventloom/testing';
import { openSqliteEventStore } from '../src/index.js';
import { tempFile } from './temp-file.js';

runCommandHandlingConformance({
  name: 'sqlite',
  create: async (options) => {
    const file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename, ...options });
    return {
      store,
      cleanup: async () => {
        await store.close();
        file.remove();
      },
    };
  },
});
