/** The event store conformance suite of @eventloom/testing, against a fresh SQLite file per test. */
import { fileURLToPath } from 'node:url';
import { runEventStoreConformance } from '@eventloom/testing';
import { openSqliteEventStore } from '../src/index.js';
import { tempFile } from './temp-file.js';

const OPEN_STORE = fileURLToPath(new URL('./fixtures/open-store.ts', import.meta.url));

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
      // Another process on the file: its own connection.
      reopen: async () => openSqliteEventStore({ filename: file.filename }),
      child: { module: OPEN_STORE, env: { filename: file.filename } },
      cleanup: async () => {
        await store.close();
        file.remove();
      },
    };
  },
});
