/**
 * The transport conformance suite on SQLite, unchanged: a fresh file per test, `peer()` a second
 * SqliteTransport on the same file (its own connection, as another process has), `crash()` the
 * peer abandoned without releasing what it claimed.
 */
import { uuidv7, type ConsumeSource } from '@eventloom/core';
import { runTransportConformance } from '@eventloom/testing';
import { openSqliteTransport, type SqliteTransport } from '../../src/index.js';
import { tempFile } from '../temp-file.js';

runTransportConformance('sqlite', {
  async create() {
    const file = tempFile();
    const transport = openSqliteTransport({ filename: file.filename });
    return {
      transport,
      peer: async () => openSqliteTransport({ filename: file.filename }),
      crash: (peer) => (peer as SqliteTransport).abandon(),
      // A foreign producer's bytes in the queue: stored as the envelope text, they read back raw.
      injectRaw: async (source: ConsumeSource, _headers, body) => {
        const [destination, group] = 'queue' in source ? [source.queue, ''] : [source.topic, source.group];
        transport.database
          .prepare('INSERT INTO queue_messages (destination, group_name, id, visible_at, envelope) VALUES (?, ?, ?, ?, ?)')
          .run(destination, group, uuidv7(), Date.now(), Buffer.from(body).toString('utf8'));
      },
      isolatedDeadLetters: true,
      cleanup: async () => {
        await transport.close();
        file.remove();
      },
    };
  },
});
