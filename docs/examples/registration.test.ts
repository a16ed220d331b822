/**
 * The acceptance test of issue 8, and the code of docs/subscriptions.md: the user-registration
 * flow (./registration/flow.ts) run unchanged on memory, SQLite and PostgreSQL — Email scaled to
 * two group members, one of them killed (SIGKILL, in its own process, where the store is shared
 * between processes), Analytics and CRM each at its own pace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemoryEventStore,
  type ConsumerGroupMember,
  type EventStore,
  type Position,
  type RecordedEvent,
  type SubscriptionEvent,
} from '@eventloom/core';
import { dropPostgresEventStore, openPostgresEventStore } from '@eventloom/postgres';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { POSTGRES, serviceOrSkip } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { authService, startAnalytics, startCrm, startEmail, type UserRegistered } from './registration/flow.js';

const postgresUrl = await serviceOrSkip(POSTGRES);
const EMAIL_PROCESS = fileURLToPath(new URL('./registration/email-process.ts', import.meta.url));

interface Deployment {
  readonly store: EventStore;
  /** The store as another process opens it (its own connection); the same store in memory. */
  other(): Promise<EventStore>;
  /** Arguments of email-process.ts for this store; none for a store that lives in one process. */
  readonly processArgs: readonly string[] | null;
  close(): Promise<void>;
}

/** Only these lines differ between the stores. */
// #region deployments
const deployments: Record<string, () => Promise<Deployment>> = {
  memory: async () => {
    const store = new MemoryEventStore();
    return { store, other: async () => store, processArgs: null, close: () => store.close() };
  },
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventloom-registration-'));
    const filename = join(dir, 'events.db');
    const opened: EventStore[] = [openSqliteEventStore({ filename })];
    return {
      store: opened[0]!,
      other: async () => opened[opened.push(openSqliteEventStore({ filename })) - 1]!,
      processArgs: ['sqlite', filename],
      close: async () => {
        for (const store of opened.reverse()) await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  ...(postgresUrl && {
    postgres: async () => {
      const schema = `registration_${process.pid}_${Date.now().toString(36)}`;
      const open = () => openPostgresEventStore({ connectionString: postgresUrl, schema, poolSize: 3 });
      const opened: EventStore[] = [await open()];
      return {
        store: opened[0]!,
        other: async () => opened[opened.push(await open()) - 1]!,
        processArgs: ['postgres', postgresUrl, schema],
        close: async () => {
          for (const store of opened.reverse()) await store.close();
          await dropPostgresEventStore({ connectionString: postgresUrl, schema });
        },
      };
    },
  }),
};
// #endregion deployments

/** An Email member that can be killed: in its own process (SIGKILL), or in this one where the store cannot be shared. */
function emailMember(deployment: Deployment, sent: Set<string>): { partitions(): number; kill(): Promise<void> } {
  if (deployment.processArgs === null) {
    const member = startEmail(deployment.store, 'email-a', (to) => void sent.add(to));
    return { partitions: () => member.partitions.length, kill: () => member.stop() };
  }
  const child: ChildProcess = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', EMAIL_PROCESS, ...deployment.processArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let held = 0;
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (buffered + chunk.toString()).split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('sent ')) sent.add(line.slice(5));
      if (line.startsWith('partitions ')) held = line.length > 11 ? line.slice(11).split(',').length : 0;
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.unshift(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  return {
    partitions: () => held,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function eventually(assertion: () => void | Promise<void>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

const running: { stop(): Promise<void> }[] = [];
const cleanups: (() => Promise<void>)[] = [];
let openGate: () => void = () => undefined;
afterEach(async () => {
  openGate();
  for (const r of running.splice(0)) await r.stop();
  for (const c of cleanups.splice(0)) await c();
});

describe.each(Object.keys(deployments))('the registration flow on %s', (name) => {
  it('registers users; Email (two members, one killed), Analytics and CRM each handle every registration at their own pace', async () => {
    const deployment = await deployments[name]!();
    cleanups.push(() => deployment.close());
    const { store } = deployment;
    const auth = authService(store);
    const register = async (i: number): Promise<Position> => {
      const result = await auth.register({ userId: `u${i}`, email: i === 13 ? `bounce-${i}@example.com` : `user${i}@example.com`, name: `User ${i}` });
      return result.events[0]!.position;
    };
    // Registrations before any service runs: Analytics (from 'start') sees them; so does Email.
    for (let i = 1; i <= 10; i++) await register(i);

    const sent = new Set<string>();
    const killable = emailMember(deployment, sent);
    await eventually(() => expect(killable.partitions()).toBe(4));
    const survivor: ConsumerGroupMember = startEmail(await deployment.other(), 'email-b', (to) => void sent.add(to));
    running.push(survivor);
    await eventually(() => expect([killable.partitions(), survivor.partitions.length]).toEqual([2, 2]));

    const perDay = new Map<string, number>();
    const analytics = startAnalytics(store, (day) => perDay.set(day, (perDay.get(day) ?? 0) + 1));
    running.push(analytics);
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const contacts: string[] = [];
    let crmDown = true;
    const crm = startCrm(store, async (event: RecordedEvent<UserRegistered>) => {
      await gate; // the CRM is slow: it waits until the test lets it go
      if (crmDown && event.data.email.startsWith('bounce')) throw new Error(`CRM refused ${event.data.email}`);
      contacts.push(event.data.userId);
    });
    running.push(crm);

    for (let i = 11; i <= 29; i++) await register(i);
    // A retried request (the same request id) is recognised: no second UserRegistered.
    const signup = { userId: 'u30', email: 'user30@example.com', name: 'User 30' };
    expect((await auth.register(signup, 'signup-request-30')).idempotent).toBe(false);
    expect((await auth.register(signup, 'signup-request-30')).idempotent).toBe(true);
    await eventually(() => expect(sent.size).toBe(30));

    // One Email member dies; the survivor takes its partitions over once their lease runs out.
    await killable.kill();
    let last = 0n;
    for (let i = 31; i <= 40; i++) last = await register(i);
    await eventually(() => expect(survivor.partitions).toEqual([0, 1, 2, 3]));
    await survivor.waitFor(last, 30_000);
    expect([...sent].sort()).toEqual(
      Array.from({ length: 40 }, (_, k) => (k + 1 === 13 ? 'bounce-13@example.com' : `user${k + 1}@example.com`)).sort(),
    );

    // Analytics is done while the CRM has not handled one event: each at its own pace.
    await analytics.waitFor(last, 30_000);
    expect([...perDay.values()].reduce((a, b) => a + b, 0)).toBe(40);
    expect(crm.position).toBeNull();

    openGate();
    await crm.waitFor(last, 30_000);
    expect(contacts).toHaveLength(39);
    // #region dead-letters
    const [letter] = await store.subscriptionDeadLetters.list('crm');
    expect(letter).toMatchObject({ streamId: 'user-u13', attempts: 3, error: 'Error: CRM refused bounce-13@example.com' });
    crmDown = false; // the CRM is fixed: hand it the dead letters again
    expect(await crm.retryDeadLetters()).toEqual({ handled: 1, failed: 0 });
    expect(await store.subscriptionDeadLetters.list('crm')).toEqual([]);
    // (or give up on one: await store.subscriptionDeadLetters.discard('crm', letter.position))
    // #endregion dead-letters
    expect(contacts).toHaveLength(40);
  });

  it('reports what a subscription does, starts from now when asked, and says when it is live', async () => {
    const deployment = await deployments[name]!();
    cleanups.push(() => deployment.close());
    const { store } = deployment;
    const auth = authService(store);
    await auth.register({ userId: 'old', email: 'old@example.com', name: 'Old' });
    const welcomed: string[] = [];
    const lines: string[] = [];
    // #region watch
    const reported: SubscriptionEvent[] = [];
    const newsletter = store.subscribe<UserRegistered>({
      subscriptionId: 'newsletter',
      from: 'now', // a new service: only registrations from here on (the default, 'start', replays them all)
      filter: { eventTypes: ['UserRegistered'] },
      failurePolicy: { onFailure: 'stop', maxAttempts: 2, retryDelayMs: 10 },
      onEvent: (event) => reported.push(event), // 'leading', 'live', 'retrying', 'failed', 'error' (store retries)…
      logger: { warn: (line) => lines.push(line), error: (line) => lines.push(line) }, // default: console
      handler: (event) => {
        if (event.data.email.endsWith('@broken.example')) throw new Error('no such domain');
        welcomed.push(event.data.userId);
      },
    });
    await newsletter.live; // caught up: from here on it handles new registrations as they come
    // #endregion watch
    running.push(newsletter);
    await auth.register({ userId: 'new', email: 'new@example.com', name: 'New' });
    await auth.register({ userId: 'bad', email: 'bad@broken.example', name: 'Bad' });
    // #region failed
    await expect(newsletter.done).rejects.toMatchObject({ code: 'SUBSCRIPTION_FAILED', attempts: 2 });
    expect(newsletter.status).toBe('failed');
    expect(reported.map((e) => e.type)).toEqual(['leading', 'live', 'retrying', 'failed']);
    expect(lines.at(-1)).toMatch(/subscription newsletter stopped at position \d+ \(event .*, UserRegistered\) after 2 attempts: Error: no such domain/);
    // #endregion failed
    expect(welcomed).toEqual(['new']);
  });
});
