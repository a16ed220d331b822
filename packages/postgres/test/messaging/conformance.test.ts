/**
 * The transport conformance suite on PostgreSQL. One schema for the file; each test gets a tenant
 * of its own, so row-level security gives it an empty dead-letter queue. The peer is a second
 * transport with its own pool (another process); a crash cuts its connections without a word.
 */
import { randomUUID } from 'node:crypto';
import { runTransportConformance } from '@eventloom/testing';
import { afterAll, beforeAll } from 'vitest';
import { dropPostgresEventStore } from '../../src/index.js';
import { openPostgresTransport, type PostgresTransport } from '../../src/messaging/index.js';
import { connectionString, postgresUrl } from './support.js';
import { uniqueSchema } from '../support.js';

const schema = uniqueSchema('elqc');

if (postgresUrl) {
  beforeAll(async () => {
    // Migrates the schema once, before tests open transports on it side by side.
    const first = await openPostgresTransport({ connectionString, schema, poolSize: 1 });
    await first.close();
  });
  afterAll(async () => {
    await dropPostgresEventStore({ connectionString, schema });
  });

  runTransportConformance('postgres', {
    async create() {
      const tenantId = `t-${randomUUID()}`;
      const open = () => openPostgresTransport({ connectionString, schema, tenantId, poolSize: 4, pollIntervalMs: 500 });
      const transport = await open();
      const peers: PostgresTransport[] = [];
      return {
        transport,
        peer: async () => {
          const peer = await open();
          peers.push(peer);
          return peer;
        },
        crash: (t) => (t as PostgresTransport).abandon(),
        isolatedDeadLetters: true,
        cleanup: async () => {
          await Promise.all([transport, ...peers].map((t) => t.close().catch(() => undefined)));
        },
      };
    },
  });
}
