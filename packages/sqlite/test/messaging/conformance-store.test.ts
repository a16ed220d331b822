/**
 * The transport conformance suite on SQLite with the transport made from an event store
 * (`{ store }`): its queues on the store's connection, sharing its lock and transactions. The
 * peer is another store and transport on the same file. The model runs on the `{ filename }`
 * variant (conformance.test.ts).
 */
import { uuidv7, type ConsumeSource } from '@eventloom/core';
import { runTransportConformance } from '@eventloom/testing';
import { openSqliteEventStore, openSqliteTransport, type SqliteEventStore, type SqliteTransport } from '../../src/index.js';
import { tempFile } from '../temp-file.js';

runTransportConformance(
  'sqlite on an event store',
  {
    async create() {
      const file = tempFile();
      const stores: SqliteEventStore[] = [];
      const onStore = (): SqliteTransport => {
        const store = openSqliteEventStore({ filename: file.filename });
        stores.push(store);
        return openSqliteTransport({ store });
      };
      const transport = onStore();
      return {
        transport,
        peer: async () => onStore(),
        // A killed process takes its connection with it: the peer's store closes under it, nothing released.
        crash: async (peer) => {
          await (peer as SqliteTransport).abandon();
          const store = stores.find((s) => s.database === (peer as SqliteTransport).database);
          await store?.close();
        },
        injectRaw: async (source: ConsumeSource, _headers, body) => {
          const [destination, group] = 'queue' in source ? [source.queue, ''] : [source.topic, source.group];
          transport.database
            .prepare('INSERT INTO queue_messages (destination, group_name, id, visible_at, envelope) VALUES (?, ?, ?, ?, ?)')
            .run(destination, group, uuidv7(), Date.now(), Buffer.from(body).toString('utf8'));
        },
        isolatedDeadLetters: true,
        cleanup: async () => {
          await transport.close();
          for (const store of stores) await store.close();
          file.remove();
        },
      };
    },
  },
  { skip: { model: 'runs on the { filename } variant in conformance.test.ts; the driver is the same' } },
);
