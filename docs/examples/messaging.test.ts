/**
 * The code of docs/messaging.md, run: the user-registration choreography in one process on
 * SQLite (./messaging/services.ts), and as separate processes on PostgreSQL
 * (./messaging/postgres-service.ts), the welcome-email process SIGKILLed and started again
 * half-way — each user still gets one welcome email, one analytics count and one CRM contact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordedEvent } from '@eventloom/core';
import { dropPostgresEventStore, openPostgresEventStore } from '@eventloom/postgres';
import { POSTGRES, serviceOrSkip } from '@eventloom/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { authService } from './registration/flow.js';
import {
  openRegistrationApp,
  startAnalytics,
  startCrm,
  startMailer,
  startOutboxRelayOf,
  startUserEventsRelay,
  startWelcomeEmail,
  type RegistrationApp,
} from './messaging/services.js';

const postgresUrl = await serviceOrSkip(POSTGRES);
const SERVICE = fileURLToPath(new URL('./messaging/postgres-service.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function eventually(assertion: () => Promise<void> | void, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('messaging guide on SQLite, in one process', () => {
  it('registers users; each gets one welcome email, one count and one CRM contact, even when messages come twice', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventloom-messaging-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const app: RegistrationApp = openRegistrationApp(join(dir, 'app.db'));
    cleanups.push(async () => {
      await app.inbox.close();
      await app.transport.close();
      await app.store.close();
    });
    // #region run-sqlite
    const sent: string[] = [];
    await app.transport.declare(['welcome-email', 'analytics', 'crm'].map((group) => ({ topic: 'users', group })));
    const running = [
      startUserEventsRelay(app),
      startOutboxRelayOf(app),
      startWelcomeEmail(app),
      startMailer(app, async (to) => void sent.push(to)),
      startAnalytics(app),
      startCrm(app),
    ];
    const auth = authService(app.store);
    await auth.register({ userId: 'u1', email: 'ada@example.com', name: 'Ada' });
    await auth.register({ userId: 'u2', email: 'alan@example.com', name: 'Alan' });
    // #endregion run-sqlite
    await auth.register({ userId: 'u3', email: 'grace@example.com', name: 'Grace' });
    await eventually(() => expect(sent.sort()).toEqual(['ada@example.com', 'alan@example.com', 'grace@example.com']));
    // The relay publishing again (a crash before its checkpoint) changes nothing: the same ids come twice.
    const registered: RecordedEvent[] = [];
    for await (const event of app.store.readAll({ filter: { eventTypes: ['UserRegistered'] } })) registered.push(event);
    await app.transport.publish(
      'users',
      registered.map((event) => ({ id: event.id, type: event.type, data: event.data, subject: event.streamId, partitionKey: event.streamId })),
    );
    await eventually(async () => {
      expect(await app.inbox.has('crm', registered[2]!.id)).toBe(true);
      expect(app.db.prepare('SELECT count(*) FROM crm_contacts').pluck().get()).toBe(3);
      expect(app.db.prepare('SELECT sum(count) FROM signups_per_day').pluck().get()).toBe(3);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent).toHaveLength(3);
    expect(app.db.prepare('SELECT sum(count) FROM signups_per_day').pluck().get()).toBe(3);
    for (const part of running) await part.stop();
  });

  it('dead-letters a command the mailer cannot send, with its reason, and redrives it once fixed', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventloom-messaging-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const app = openRegistrationApp(join(dir, 'app.db'));
    cleanups.push(async () => {
      await app.inbox.close();
      await app.transport.close();
      await app.store.close();
    });
    let providerUp = false;
    const sent: string[] = [];
    const mailer = startMailer(app, async (to) => {
      if (!providerUp) throw new Error('provider unavailable');
      sent.push(to);
    });
    await app.transport.send('mailer', [
      { type: 'SendEmail', data: { to: 'nobody', template: 'welcome', userId: 'u9' } },
      { type: 'SendEmail', data: { to: 'ada@example.com', template: 'welcome', userId: 'u1' } },
    ]);
    // #region dead-letters
    // Messages the mailer gave up on, with why: rejected by the handler, or out of attempts.
    const letters = await app.transport.deadLetters.list({ consumer: 'mailer' });
    for (const letter of letters) console.log(letter.message?.type, letter.reason, letter.error, letter.attempts);
    // Once the provider is back: send them again (attempts reset), here only the retryable ones.
    await app.transport.deadLetters.redrive({ consumer: 'mailer', reason: 'max-attempts' });
    // #endregion dead-letters
    await eventually(async () => expect((await app.transport.deadLetters.list({ consumer: 'mailer' })).map((l) => l.reason).sort()).toEqual(['max-attempts', 'rejected']), 30_000);
    const [rejected] = await app.transport.deadLetters.list({ reason: 'rejected' });
    expect(rejected!.error).toContain('not an email address: nobody');
    providerUp = true;
    expect(await app.transport.deadLetters.redrive({ consumer: 'mailer', reason: 'max-attempts' })).toBe(1);
    await eventually(() => expect(sent).toEqual(['ada@example.com']));
    expect(await app.transport.deadLetters.list({ consumer: 'mailer' })).toHaveLength(1);
    await mailer.stop();
  });
});

describe.skipIf(!postgresUrl)('messaging guide on PostgreSQL, one process per service', () => {
  it('registers users across processes; a killed welcome-email process sends no email twice', { timeout: 120_000 }, async () => {
    const connectionString = postgresUrl!;
    const schema = `elmsg_${process.pid}_${Date.now().toString(36)}`;
    const store = await openPostgresEventStore({ connectionString, schema });
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    cleanups.push(async () => {
      await admin.end();
      await store.close();
      await dropPostgresEventStore({ connectionString, schema });
    });
    await admin.query(`
      CREATE TABLE "${schema}".sent_emails (idempotency_key text PRIMARY KEY, recipient text NOT NULL);
      CREATE TABLE "${schema}".signups_per_day (day text PRIMARY KEY, count integer NOT NULL);
      CREATE TABLE "${schema}".crm_contacts (user_id text PRIMARY KEY, email text NOT NULL)`);
    const children: ChildProcess[] = [];
    cleanups.push(() => children.forEach((child) => child.kill('SIGKILL')));
    const start = (service: string): ChildProcess => {
      const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', SERVICE, service, connectionString, schema], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const email = start('welcome-email');
    for (const service of ['relay', 'analytics', 'crm']) start(service);
    const auth = authService(store);
    for (let i = 0; i < 20; i++) await auth.register({ userId: `u${i}`, email: `user${i}@example.com`, name: `User ${i}` });
    const count = async (sql: string): Promise<number> => Number((await admin.query(sql)).rows[0].n);
    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM "${schema}".sent_emails`)).toBeGreaterThanOrEqual(5), 60_000);
    email.kill('SIGKILL');
    for (let i = 20; i < 40; i++) await auth.register({ userId: `u${i}`, email: `user${i}@example.com`, name: `User ${i}` });
    start('welcome-email');
    await eventually(async () => {
      expect(await count(`SELECT count(*) AS n FROM "${schema}".sent_emails`)).toBe(40);
      expect(await count(`SELECT count(DISTINCT recipient) AS n FROM "${schema}".sent_emails`)).toBe(40);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".crm_contacts`)).toBe(40);
      expect(await count(`SELECT coalesce(sum(count), 0) AS n FROM "${schema}".signups_per_day`)).toBe(40);
    }, 90_000);
  });
});
