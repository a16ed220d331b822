/**
 * The outbox/inbox conformance suite on PostgreSQL, unchanged. One schema for the file, a tenant
 * per test (its event store, transport, outbox and inbox rows apart); the outbox and inbox run
 * on the application's own pool (the schema's owner here), its transactions BEGIN … COMMIT on a
 * client of that pool, its side effects in a table of its own.
 */
import { randomUUID } from 'node:crypto';
import { runOutboxInboxConformance } from '@eventloom/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresInbox, openPostgresOutbox, quoteIdent } from '../../src/index.js';
import { openPostgresTransport } from '../../src/messaging/index.js';
import { connectionString, postgresUrl } from './support.js';
import { uniqueSchema } from '../support.js';

const schema = uniqueSchema('eloi');
const effects = `${quoteIdent(schema)}.effects`;

if (postgresUrl) {
  const app = new pg.Pool({ connectionString, max: 8 });
  app.on('error', () => undefined);
  beforeAll(async () => {
    const first = await openPostgresEventStore({ connectionString, schema, poolSize: 1 });
    await first.close();
    await app.query(`CREATE TABLE ${effects} (key text NOT NULL)`);
  });
  afterAll(async () => {
    await app.end();
    await dropPostgresEventStore({ connectionString, schema });
  });

  runOutboxInboxConformance<pg.PoolClient>('postgres', {
    async create() {
      const tenantId = `t-${randomUUID()}`;
      const store = await openPostgresEventStore({ connectionString, schema, tenantId, poolSize: 4 });
      const transport = await openPostgresTransport({ store, pollIntervalMs: 200 });
      const inbox = await openPostgresInbox({ pool: app, schema, tenantId });
      return {
        store,
        transport,
        inbox,
        outbox: (name) => openPostgresOutbox({ pool: app, schema, tenantId, name }),
        async transaction(fn) {
          const client = await app.connect();
          try {
            await client.query('BEGIN');
            const result = await fn(client);
            await client.query('COMMIT');
            return result;
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw error;
          } finally {
            client.release();
          }
        },
        write: async (tx, key) => {
          await tx.query(`INSERT INTO ${effects} (key) VALUES ($1)`, [key]);
        },
        count: async (key) => (await app.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${effects} WHERE key = $1`, [key])).rows[0]!.n,
        async cleanup() {
          await inbox.close();
          await transport.close();
          await store.close();
        },
      };
    },
  });
}
