/** The queue examples of the package README, run against the server (each `#region` is quoted there). */
import type { Event } from '@eventloom/core';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresTransport, type PostgresEventStore, type PostgresTransport } from '../../src/index.js';
import { connectionString, postgresUrl, uniqueSchema } from '../support.js';

type UserRegistered = Event<'UserRegistered', { userId: string; email: string }>;
type SendWelcomeEmail = Event<'SendWelcomeEmail', { email: string }>;

describe.skipIf(!postgresUrl)('README: the PostgreSQL transport', () => {
  const schema = uniqueSchema('elqx');
  let store: PostgresEventStore | undefined;
  let transport: PostgresTransport | undefined;

  afterAll(async () => {
    await transport?.close();
    await store?.close();
    await dropPostgresEventStore({ connectionString, schema });
  });

  it('sends, publishes, consumes and redrives', async () => {
    store = await openPostgresEventStore({ connectionString, schema, poolSize: 4 });
    // #region open-transport
    transport = await openPostgresTransport({ store, source: 'accounts' });
    // same schema, tenant and pool as the store; or { connectionString, schema, tenantId }
    // #endregion open-transport
    const t = transport;
    const mailed: string[] = [];
    // #region fan-out
    await t.declare([{ topic: 'users', group: 'mailer' }]); // the group gets what is published from now on
    const mailer = t.consume<UserRegistered>(
      { topic: 'users', group: 'mailer' },
      {
        UserRegistered: async (message, context) => {
          // inherits the correlation id; causation id = this message's id
          await context.send('emails', { type: 'SendWelcomeEmail', data: { email: message.data.email } });
        },
      },
      { concurrency: 4 },
    );
    const emails = t.consume<SendWelcomeEmail>({ queue: 'emails' }, {
      SendWelcomeEmail: (message) => void mailed.push(message.data.email),
    });
    await t.publish<UserRegistered>('users', { type: 'UserRegistered', data: { userId: 'u-1', email: 'ada@example.com' }, partitionKey: 'u-1' });
    // #endregion fan-out
    await expect.poll(() => mailed, { timeout: 10_000 }).toEqual(['ada@example.com']);
    await mailer.stop();
    await emails.stop();

    const failing = t.consume<SendWelcomeEmail>(
      { queue: 'flaky' },
      { SendWelcomeEmail: () => Promise.reject(new Error('SMTP down')) },
      { failurePolicy: { maxAttempts: 2, retryDelayMs: 10 }, logger: false },
    );
    await t.send<SendWelcomeEmail>('flaky', { type: 'SendWelcomeEmail', data: { email: 'bob@example.com' } });
    await expect.poll(async () => (await t.deadLetters.list({ consumer: 'flaky' })).length, { timeout: 10_000 }).toBe(1);
    await failing.stop();
    // #region dead-letters
    const parked = await t.deadLetters.list({ consumer: 'flaky', reason: 'max-attempts' });
    // parked[0].error → 'Error: SMTP down', .attempts → 2, .message → the original envelope
    const moved = await t.deadLetters.redrive({ ids: parked.map((d) => d.id) }); // back on 'flaky', attempts reset
    // #endregion dead-letters
    expect(parked[0]).toMatchObject({ error: 'Error: SMTP down', attempts: 2 });
    expect(moved).toBe(1);
  }, 30_000);
});
