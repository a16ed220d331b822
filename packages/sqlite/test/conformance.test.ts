/** The event store conformance suite of @eventloom/testing, against a fresh SQLite file per test. */
import { runEventStoreConformance } from '@eventloom/testing';
import { openSqliteEventStore } from '../src/index.js';
import { tempFile } from './temp-file.js';

runEventStoreConformance({
  name: 'sqlite',
  create: async (options) => {
    const file = tempFile();
    let store;
    try {
      store = openSqliteEventStore({ filename: file.filename, ...options });
    } catch (error) {
      file.remove();
      throw error;
    }
    return {
      store,
      cleanup: async () => {
        await store.close();
        file.remove();
      },
    };
  },
});
