/**
 * S1/S2: orchestrated sagas, embedded (SQLite file, durability full) and in memory.
 *
 * - S1 completed sagas/s: N sagas of 4 steps, 16 in flight; each step's action appends one
 *   business event to a stream of its own (as the reference system's services do).
 * - S2 overhead per step: the same work as raw appends — per step, the business event alone
 *   ("business only"), and the business event plus the two log events a step records, appended by
 *   hand at known versions ("same events, by hand") — against the orchestrator. The difference to
 *   "same events, by hand" is the orchestrator's own cost; to "business only" it is what the saga
 *   log costs.
 *
 * Usage: npm run -w @eventloom/bench sagas [-- --sagas 1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defineSaga, MemoryEventStore, SagaOrchestrator, type EventStore } from '@eventloom/core';
import { openSqliteEventStore } from '@eventloom/sqlite';

const args = process.argv.slice(2);
const at = args.indexOf('--sagas');
const SAGAS = at >= 0 ? Number(args[at + 1]) : 1_000;
const STEPS = 4;
const IN_FLIGHT = 16;

async function pool(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

function saga(store: EventStore) {
  return defineSaga<{ n: number }>({
    name: 'bench',
    steps: Array.from({ length: STEPS }, (_, s) => ({
      name: `step${s}`,
      action: async (c) => {
        await store.appendToStream(`svc${s}-${c.sagaId}`, [{ type: 'Done', data: { n: c.input.n, key: c.idempotencyKey } }], { expectedVersion: 'no_stream' });
      },
      compensate: async () => undefined,
    })),
  });
}

async function orchestrated(store: EventStore, prefix: string): Promise<number> {
  const orchestrator = new SagaOrchestrator({ store, saga: saga(store) });
  const t = performance.now();
  await pool(SAGAS, async (i) => {
    const status = await orchestrator.execute(`${prefix}${i}`, { n: i });
    if (status.state !== 'completed') throw new Error(`saga ${i} ended ${status.state}`);
  });
  return performance.now() - t;
}

async function businessOnly(store: EventStore, prefix: string): Promise<number> {
  const t = performance.now();
  await pool(SAGAS, async (i) => {
    for (let s = 0; s < STEPS; s++) await store.appendToStream(`svc${s}-${prefix}${i}`, [{ type: 'Done', data: { n: i, key: `k${s}` } }], { expectedVersion: 'no_stream' });
  });
  return performance.now() - t;
}

/**
 * What the orchestrator writes, written by hand in the same appends: the start; the first step's
 * start; per step the business event, then its completion with the next step's start (or the end).
 */
async function sameEventsByHand(store: EventStore, prefix: string): Promise<number> {
  const t = performance.now();
  await pool(SAGAS, async (i) => {
    const log = `saga-${prefix}${i}`;
    let v = 0n;
    const append = async (...events: { type: string; data: object }[]) => {
      v = (await store.appendToStream(log, events, { expectedVersion: v })).nextExpectedVersion;
    };
    await append({ type: 'SagaStarted', data: { saga: 'bench', input: { n: i }, steps: [] } });
    await append({ type: 'SagaStepStarted', data: { step: 'step0', attempt: 1 } });
    for (let s = 0; s < STEPS; s++) {
      await store.appendToStream(`svc${s}-${prefix}${i}`, [{ type: 'Done', data: { n: i, key: `k${s}` } }], { expectedVersion: 'no_stream' });
      const completed = { type: 'SagaStepCompleted', data: { step: `step${s}`, attempt: 1, result: null } };
      await append(completed, s + 1 < STEPS ? { type: 'SagaStepStarted', data: { step: `step${s + 1}`, attempt: 1 } } : { type: 'SagaCompleted', data: { results: {} } });
    }
  });
  return performance.now() - t;
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function backend(name: string, open: () => { store: EventStore; done: () => Promise<void> }): Promise<void> {
  const rows: [string, number][] = [];
  // Each variant on a fresh store, so none pays for the others' rows.
  for (const [label, run] of [
    ['business only (raw appends)', businessOnly],
    ['same events, by hand (raw appends)', sameEventsByHand],
    ['SagaOrchestrator', orchestrated],
  ] as const) {
    const { store, done } = open();
    try {
      await run(store, 'warm');
      const { store: fresh, done: freshDone } = open();
      try {
        rows.push([label, await run(fresh, 's')]);
      } finally {
        await freshDone();
      }
    } finally {
      await done();
    }
  }
  const steps = SAGAS * STEPS;
  console.log(`\n${name}: ${fmt(SAGAS)} sagas × ${STEPS} steps, ${IN_FLIGHT} in flight`);
  const base = rows[0]![1];
  const byHand = rows[1]![1];
  for (const [label, ms] of rows) {
    console.log(`  ${label.padEnd(36)} ${fmt(ms).padStart(7)} ms  ${fmt((SAGAS / ms) * 1000).padStart(7)} sagas/s  ${fmt((ms * 1000) / steps, 1).padStart(7)} µs/step`);
  }
  const orch = rows[2]![1];
  console.log(`  per step: orchestrator ${fmt(((orch - byHand) * 1000) / steps, 1)} µs over its own events by hand, ${fmt(((orch - base) * 1000) / steps, 1)} µs over the business append alone (${fmt(orch / base, 2)}×)`);
}

const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-sagas-'));
let files = 0;
try {
  await backend('memory', () => {
    const store = new MemoryEventStore();
    return { store, done: () => store.close() };
  });
  await backend('SQLite (one file, durability full)', () => {
    const store = openSqliteEventStore({ filename: join(dir, `s${files++}.sqlite`) });
    return { store, done: () => store.close() };
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
