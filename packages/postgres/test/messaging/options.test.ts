/**
 * The PostgreSQL transport's options under the rule every storage-backed transport shares
 * (`splitTransportOptions`, `requireOneOf`, `checkPollIntervalMs` in core): a typed error naming the
 * option before any connection is made, the engine's options reaching the engine, the storage's
 * reaching the driver.
 */
import { InvalidArgumentError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { dropPostgresEventStore, quoteIdent } from '../../src/index.js';
import { openPostgresTransport, type PostgresTransportOptions } from '../../src/messaging/index.js';
import { adminClient, connectionString, postgresUrl } from './support.js';
import { uniqueSchema } from '../support.js';

async function refused(options: unknown): Promise<InvalidArgumentError> {
  const error: unknown = await openPostgresTransport(options as PostgresTransportOptions).then(
    async (transport) => {
      await transport.close();
      return new Error('accepted');
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe('PostgreSQL transport options', () => {
  it('refuses what does not say where the queues are, naming the option', async () => {
    expect(await refused(null)).toMatchObject({ argument: 'options', reason: expect.stringContaining('{ connectionString, schema } or { store }, got null') });
    expect(await refused({})).toMatchObject({ argument: 'options', reason: expect.stringContaining('names neither connectionString nor store') });
    expect(await refused({ connectionString, store: {} })).toMatchObject({ argument: 'options', reason: expect.stringContaining('names both connectionString and store') });
  });

  it('takes a poll interval from 1 ms to an hour', async () => {
    for (const bad of [0, 0.5, -1, 3_600_001, Number.NaN, '100']) {
      expect(await refused({ connectionString, pollIntervalMs: bad })).toMatchObject({ argument: 'pollIntervalMs' });
    }
  });

  it.skipIf(!postgresUrl)('hands the engine its options (source, schemas, tracing) and the driver the rest', async () => {
    const schema = uniqueSchema('elop');
    const admin = await adminClient();
    try {
      expect(await refused({ connectionString, schema, source: '' })).toMatchObject({ argument: 'options.source' });
      const transport = await openPostgresTransport({ connectionString, schema, source: 'billing', tracing: false, poolSize: 3 });
      try {
        await transport.send('charges', { type: 'ChargeCard', data: { orderId: 'o-1' } });
        const { rows } = await admin.query<{ envelope: string }>(`SELECT envelope FROM ${quoteIdent(schema)}.queue_messages`);
        expect(rows.map((row) => JSON.parse(row.envelope) as unknown)).toMatchObject([{ source: 'billing' }]);
        expect(transport.pool.options.max).toBe(3);
      } finally {
        await transport.close();
      }
    } finally {
      await admin.end();
      await dropPostgresEventStore({ connectionString, schema });
    }
  });
});
