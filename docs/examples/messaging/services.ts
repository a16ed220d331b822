/**
 * The user-registration choreography of docs/messaging.md on SQLite, in one process: Auth records
 * `UserRegistered` (event-sourced, docs/examples/registration/flow.ts); the store is its outbox and
 * a relay publishes its `user-` events to the topic `users`; Welcome email, Analytics and CRM each
 * consume the topic through a group of their own. The SQLite transport keeps the queues in the
 * same file as the events, so everything here commits to one file.
 */
// #region setup
import { inboxHandlers, startOutboxRelay, type Event } from '@eventloom/core';
import { openSqliteEventStore, openSqliteInbox, openSqliteOutbox, openSqliteTransport, type SqliteDatabase } from '@eventloom/sqlite';

export type UserRegistered = Event<'UserRegistered', { userId: string; email: string; name: string }>;
export type SendEmail = Event<'SendEmail', { to: string; template: 'welcome'; userId: string }>;

export function openRegistrationApp(filename: string) {
  const store = openSqliteEventStore({ filename });
  // The queues live in the events file; the inbox and outbox tables too.
  const transport = openSqliteTransport({ store });
  const inbox = openSqliteInbox({ database: store.database, retention: { keepMs: 7 * 24 * 3_600_000 } });
  const outbox = openSqliteOutbox({ database: store.database, name: 'registration' });
  store.database.exec(`
    CREATE TABLE IF NOT EXISTS signups_per_day (day TEXT PRIMARY KEY, count INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS crm_contacts (user_id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)`);
  return { store, transport, inbox, outbox, db: store.database };
}
export type RegistrationApp = ReturnType<typeof openRegistrationApp>;
// #endregion setup

// #region relay
/** Auth's events, published from the store's log: message id = event id, subject = the user's stream. */
export function startUserEventsRelay(app: RegistrationApp) {
  return startOutboxRelay({
    store: app.store,
    transport: app.transport,
    name: 'user-events',
    filter: { streamPrefixes: ['user-'], eventTypes: ['UserRegistered'] },
    route: () => ({ topic: 'users' }),
  });
}
// #endregion relay

// #region welcome-email
/**
 * Welcome email: for each new user, one `SendEmail` command to the mailer's queue. The inbox
 * record and the outbox row commit in one transaction, so a redelivered `UserRegistered` (a
 * crash before the ack, the relay publishing again) queues no second email.
 */
export function startWelcomeEmail(app: RegistrationApp) {
  return app.transport.consume<UserRegistered>(
    { topic: 'users', group: 'welcome-email' },
    inboxHandlers<UserRegistered, SqliteDatabase>(app.inbox, 'welcome-email', {
      UserRegistered: (message, { tx }) => {
        app.outbox.add(tx, {
          queue: 'mailer',
          type: 'SendEmail',
          data: { to: message.data.email, template: 'welcome', userId: message.data.userId },
          // The conversation carries on: the command is caused by the event.
          correlationId: message.correlationId,
          causationId: message.id,
        });
      },
    }),
  );
}

/** Moves the queued commands to the transport (one relay per outbox name, across processes). */
export function startOutboxRelayOf(app: RegistrationApp) {
  return app.outbox.startRelay(app.transport);
}
// #endregion welcome-email

// #region mailer
/**
 * The mailer talks to the email provider: an effect outside the database, so it cannot be in a
 * transaction. It passes the message id as the provider's idempotency key; a provider error is
 * retried with backoff, then the command is dead-lettered with the error.
 */
export function startMailer(app: RegistrationApp, send: (to: string, idempotencyKey: string) => Promise<void>) {
  return app.transport.consume<SendEmail>(
    { queue: 'mailer' },
    {
      SendEmail: async (message, context) => {
        if (!message.data.to.includes('@')) return context.deadLetter(`not an email address: ${message.data.to}`);
        await send(message.data.to, message.id);
      },
    },
    { concurrency: 4, failurePolicy: { maxAttempts: 5, retryDelayMs: 200, maxRetryDelayMs: 5_000, jitter: 0.2 } },
  );
}
// #endregion mailer

// #region analytics
/** Analytics: many at once (each user is its own partition key), counted once per message. */
export function startAnalytics(app: RegistrationApp) {
  return app.transport.consume<UserRegistered>(
    { topic: 'users', group: 'analytics' },
    inboxHandlers<UserRegistered, SqliteDatabase>(app.inbox, 'analytics', {
      UserRegistered: (message, { tx }) => {
        tx.prepare(
          `INSERT INTO signups_per_day (day, count) VALUES (?, 1)
           ON CONFLICT (day) DO UPDATE SET count = count + 1`,
        ).run(message.time.slice(0, 10));
      },
    }),
    { concurrency: 8 },
  );
}
// #endregion analytics

// #region crm
/** CRM: a contact per user, written with the inbox record; events of one user in order (partition key = stream). */
export function startCrm(app: RegistrationApp) {
  return app.transport.consume<UserRegistered>(
    { topic: 'users', group: 'crm' },
    inboxHandlers<UserRegistered, SqliteDatabase>(app.inbox, 'crm', {
      UserRegistered: (message, { tx }) => {
        tx.prepare('INSERT INTO crm_contacts (user_id, email, name) VALUES (?, ?, ?)').run(message.data.userId, message.data.email, message.data.name);
      },
    }),
  );
}
// #endregion crm
