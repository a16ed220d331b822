/**
 * Sagas, timers and semantic locks keep only events, so they run unchanged on every store: the
 * same scenarios on memory, SQLite and PostgreSQL (skipped, loudly, when the server is not there).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSaga, MemoryEventStore, ResourceLockedError, SagaConflictError, SagaOrchestrator, SemanticLocks, TimerService, VirtualClock, type EventStore } from '@eventloom/core';
import { dropPostgresEventStore, openPostgresEventStore } from '@eventloom/postgres';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { POSTGRES, serviceOrSkip } from '@eventloom/testing';
import { afterAll, describe, expect, it } from 'vitest';

const pgUrl = await serviceOrSkip(POSTGRES);
const dir = mkdtempSync(join(tmpdir(), 'eventloom-saga-stores-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;

const stores: [string, () => Promise<EventStore>, boolean][] = [
  ['memory', async () => new MemoryEventStore(), true],
  [
    'sqlite',
    async () => {
      const store = openSqliteEventStore({ filename: join(dir, `s${n++}.sqlite`) });
      cleanups.push(() => store.close());
      return store;
    },
    true,
  ],
  [
    'postgres',
    async () => {
      const schema = `saga_${process.pid}_${Date.now().toString(36)}_${n++}`;
      const store = await openPostgresEventStore({ connectionString: pgUrl!, schema, poolSize: 4 });
      cleanups.push(async () => {
        await store.close();
        await dropPostgresEventStore({ connectionString: pgUrl!, schema });
      });
      return store;
    },
    pgUrl !== undefined,
  ],
];

describe.each(stores)('sagas on the %s store', (_name, open, available) => {
  it.skipIf(!available)('completes, compensates in reverse order, and reports compensation_failed', async () => {
    const store = await open();
    const calls: string[] = [];
    const step = (name: string, fail = false) => ({
      name,
      retry: { maxAttempts: 1 },
      compensationRetry: { maxAttempts: 2, baseDelayMs: 1 },
      action: (c: { reject(r: string): never }) => (fail ? c.reject('no') : void calls.push(name)),
      compensate: () => {
        if (name === 'broken') throw new Error('gone');
        calls.push(`undo-${name}`);
      },
    });
    const ok = new SagaOrchestrator({ store, saga: defineSaga({ name: 'ok', steps: [step('a'), step('b')] }), logger: false });
    expect((await ok.execute('x1', null)).state).toBe('completed');
    const undo = new SagaOrchestrator({ store, saga: defineSaga({ name: 'undo', steps: [step('a'), step('b'), step('c', true)] }), logger: false });
    expect(await undo.execute('x2', null)).toMatchObject({ state: 'compensated', compensatedSteps: ['b', 'a'] });
    const stuck = new SagaOrchestrator({ store, saga: defineSaga({ name: 'stuck', steps: [step('broken'), step('c', true)] }), logger: false });
    expect(await stuck.execute('x3', null)).toMatchObject({ state: 'compensation_failed', compensationError: { step: 'broken', error: 'Error: gone' } });
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'undo-b', 'undo-a', 'broken']);
    // Status read back from the store equals what the run returned.
    expect((await undo.status('x2'))?.compensatedSteps).toEqual(['b', 'a']);
  });

  it.skipIf(!available)('lets one of two racing executors advance a saga', async () => {
    const store = await open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let acted = 0;
    // What the service behind the step does: it acts once per idempotency key. A second executor
    // that loads the log while the first is inside the step takes the step for interrupted and
    // runs it again with the same key, so the raw calls may be two; the effects are one.
    const effects = new Set<string>();
    const saga = defineSaga({
      name: 'race',
      steps: [{ name: 'a', action: async (c: { idempotencyKey: string }) => { acted++; effects.add(c.idempotencyKey); await gate; } }],
    });
    const one = new SagaOrchestrator({ store, saga, logger: false });
    await one.start('r1', null);
    const runs = Promise.allSettled([one.resume('r1'), new SagaOrchestrator({ store, saga, logger: false }).resume('r1')]);
    const until = Date.now() + 10_000;
    while (acted === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    release();
    const results = await runs;
    // The loser (if the two overlapped at an append) stops with SagaConflictError; nothing else fails.
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(rejected.length).toBeLessThanOrEqual(1);
    for (const reason of rejected) expect(reason).toBeInstanceOf(SagaConflictError);
    expect(effects.size).toBe(1);
    expect(acted).toBeGreaterThanOrEqual(1);
    expect((await one.status('r1'))?.state).toBe('completed');
  });

  it.skipIf(!available)('fires a timer once across a restart, and holds a semantic lock against others', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const fired: string[] = [];
    await new TimerService({ store, clock, onFire: () => undefined, logger: false }).schedule('t1', { delayMs: 60_000 }, 'p');
    clock.advance(60_000);
    const after = new TimerService({ store, clock, onFire: (t) => void fired.push(t.id), logger: false });
    expect(await after.fireDue()).toBe(1);
    expect(await new TimerService({ store, clock, onFire: (t) => void fired.push(t.id), logger: false }).fireDue()).toBe(0);
    expect(fired).toEqual(['t1']);
    const locks = new SemanticLocks({ store });
    await locks.acquire('unit_1', 'order:1', { state: 'RESERVED' });
    await expect(new SemanticLocks({ store }).acquire('unit_1', 'order:2')).rejects.toThrow(ResourceLockedError);
  });
});
