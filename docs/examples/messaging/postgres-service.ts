/**
 * The same choreography on PostgreSQL, one service per process: `node postgres-service.ts <service>
 * <connection string> <schema>`, with service = relay | welcome-email | analytics | crm. Each
 * process opens the store's schema with its own connections; the transport's queues, the outbox
 * and the inbox are tables of that schema.
 */
// #region postgres-setup
import { inboxHandlers, startOutboxRelay, type Event } from '@eventloom/core';
import { openPostgresEventStore, openPostgresInbox, openPostgresOutbox, openPostgresTransport } from '@eventloom/postgres';
import pg from 'pg';

type UserRegistered = Event<'UserRegistered', { userId: string; email: string; name: string }>;
type SendEmail = Event<'SendEmail', { to: string; template: 'welcome'; userId: string }>;

const [service, connectionString, schema = 'eventloom'] = process.argv.slice(2) as [string, string, string?];
const store = await openPostgresEventStore({ connectionString, schema });
const transport = await openPostgresTransport({ store });
// The service's own pool: its handlers' writes and the inbox records commit on it together.
const pool = new pg.Pool({ connectionString });
const inbox = await openPostgresInbox({ pool, schema });
const outbox = await openPostgresOutbox({ pool, schema, name: 'registration' });
// #endregion postgres-setup

const table = (name: string): string => `"${schema}".${name}`;

// #region postgres-services
if (service === 'relay') {
  // The topic's groups exist before anything is published, so no service misses what was sent before it first started.
  await transport.declare(['welcome-email', 'analytics', 'crm'].map((group) => ({ topic: 'users', group })));
  // One relay per name is active; start this process twice and the second stands by.
  startOutboxRelay({ store, transport, name: 'user-events', filter: { streamPrefixes: ['user-'] }, route: () => ({ topic: 'users' }) });
  outbox.startRelay(transport);
}
if (service === 'welcome-email') {
  transport.consume<UserRegistered>(
    { topic: 'users', group: 'welcome-email' },
    inboxHandlers<UserRegistered, pg.PoolClient>(inbox, 'welcome-email', {
      UserRegistered: async (message, { tx }) => {
        await outbox.add(tx, {
          queue: 'mailer',
          type: 'SendEmail',
          data: { to: message.data.email, template: 'welcome', userId: message.data.userId },
          correlationId: message.correlationId,
          causationId: message.id,
        });
      },
    }),
  );
  transport.consume<SendEmail>({ queue: 'mailer' }, {
    // The "provider" here is a table keyed by the idempotency key: a resend is recognised there.
    SendEmail: async (message) => {
      await pool.query(`INSERT INTO ${table('sent_emails')} (idempotency_key, recipient) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [message.id, message.data.to]);
    },
  });
}
if (service === 'analytics') {
  transport.consume<UserRegistered>(
    { topic: 'users', group: 'analytics' },
    inboxHandlers<UserRegistered, pg.PoolClient>(inbox, 'analytics', {
      UserRegistered: async (message, { tx }) => {
        await tx.query(
          `INSERT INTO ${table('signups_per_day')} (day, count) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE SET count = signups_per_day.count + 1`,
          [message.time.slice(0, 10)],
        );
      },
    }),
    { concurrency: 8 },
  );
}
if (service === 'crm') {
  transport.consume<UserRegistered>(
    { topic: 'users', group: 'crm' },
    inboxHandlers<UserRegistered, pg.PoolClient>(inbox, 'crm', {
      UserRegistered: async (message, { tx }) => {
        await tx.query(`INSERT INTO ${table('crm_contacts')} (user_id, email) VALUES ($1, $2)`, [message.data.userId, message.data.email]);
      },
    }),
  );
}
// #endregion postgres-services
process.stdout.write('ready\n');
