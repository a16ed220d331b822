/**
 * The outbox/inbox conformance suite on SQLite, unchanged: a fresh file per test holding the
 * event store, the transport's queues, the outbox and inbox tables and the user's own table;
 * the user's transactions run on a second connection to the file, as the application's would.
 */
import Database from 'better-sqlite3';
import { runOutboxInboxConformance } from '@eventloom/testing';
import { openSqliteEventStore, openSqliteInbox, openSqliteOutbox, openSqliteTransport, type SqliteDatabase } from '../../src/index.js';
import { tempFile } from '../temp-file.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

runOutboxInboxConformance<SqliteDatabase>('sqlite', {
  async create() {
    const file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    store.database.exec('CREATE TABLE effects (key TEXT NOT NULL)');
    const transport = openSqliteTransport({ store, pollIntervalMs: 50 });
    const inbox = openSqliteInbox({ database: store.database });
    // The application's own connection; busy_timeout 0 so a wait for the store's write lock never blocks the event loop.
    const app = new Database(file.filename, { timeout: 0 });
    app.pragma('journal_mode = WAL');
    const count = app.prepare<[string], number>('SELECT count(*) FROM effects WHERE key = ?').pluck();
    return {
      store,
      transport,
      inbox,
      outbox: (name) => openSqliteOutbox({ database: store.database, name }),
      async transaction(fn) {
        for (;;) {
          try {
            app.exec('BEGIN IMMEDIATE');
            break;
          } catch (error) {
            if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
            await sleep(2);
          }
        }
        try {
          const result = await fn(app);
          app.exec('COMMIT');
          return result;
        } catch (error) {
          if (app.inTransaction) app.exec('ROLLBACK');
          throw error;
        }
      },
      write: (tx, key) => {
        tx.prepare('INSERT INTO effects (key) VALUES (?)').run(key);
      },
      count: async (key) => count.get(key)!,
      async cleanup() {
        await inbox.close();
        await transport.close();
        await store.close();
        app.close();
        file.remove();
      },
    };
  },
});
