/**
 * Projections across real processes on one PostgreSQL schema: a runner killed in the middle of a
 * batch resumes without skipping or double-applying, and of two runners only the lease holder applies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rebuildProjection, type Position } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresEventStore, PostgresReadModelStore } from '../../src/index.js';
import { connectionString, openTestStores, postgresUrl } from './support.js';

type StreamLedger = projectionFixtures.StreamLedger;
const SCRIPT = fileURLToPath(new URL('./fixtures/run-projection.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const NAMESPACE = 'crash-ledger@1';

interface Runner {
  readonly child: ChildProcess;
  readonly lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startRunner(schema: string, owner: string, options: { batchSize: number; leaseTtlMs: number; stallAt?: Position }): Runner {
  const args = [schema, owner, String(options.batchSize), String(options.leaseTtlMs), options.stallAt?.toString() ?? '-'];
  const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', SCRIPT, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EVENTLOOM_POSTGRES_URL: connectionString },
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const waitFor = (pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (const line of lines) {
          const match = line.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${owner} did not print ${pattern} within ${timeoutMs} ms; printed ${JSON.stringify(lines)}; stderr: ${stderr}`));
      }, timeoutMs);
      const onExit = (): void => {
        if (!check()) {
          cleanup();
          reject(new Error(`${owner} exited before printing ${pattern}; printed ${JSON.stringify(lines)}; stderr: ${stderr}`));
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('exit', onExit);
      };
      const listener = (): void => void check();
      if (check()) return;
      listeners.add(listener);
      child.on('exit', onExit);
    });
  return { child, lines, waitFor, exited };
}

async function kill(runner: Runner): Promise<void> {
  runner.child.kill('SIGKILL');
  await runner.exited;
}

async function openParent(): Promise<{ eventStore: PostgresEventStore; readModels: PostgresReadModelStore; schema: string }> {
  const stores = await openTestStores();
  cleanups.push(() => stores.cleanup());
  return stores;
}

const checkpoint = (readModels: PostgresReadModelStore): Promise<Position | null> =>
  readModels.transaction((tx) => tx.getCheckpoint(NAMESPACE), { readOnly: true });

/** Until the checkpoint passes `position` (the head seen now may lag it while other transactions are in flight). */
async function caughtUp(readModels: PostgresReadModelStore, position: Position, timeoutMs = 30_000): Promise<void> {
  await expect.poll(async () => ((await checkpoint(readModels)) ?? 0n) >= position, { timeout: timeoutMs, interval: 25 }).toBe(true);
}

const ledgers = async (readModels: PostgresReadModelStore, name: string): Promise<StreamLedger[]> =>
  (await readModels.read(name, (v) => v.collection<StreamLedger>('ledgers').find())).sort((a, b) => a.streamId.localeCompare(b.streamId));

const appliedBy = async (readModels: PostgresReadModelStore): Promise<Map<bigint, string>> =>
  new Map(
    (await readModels.read({ name: 'crash-ledger', version: 1 }, (v) => v.collection<{ owner: string; position: string }>('applied').find())).map(
      (doc) => [BigInt(doc.position), doc.owner],
    ),
  );

/** The same ledger built by one clean pass in this process, under another name. */
async function cleanPass(eventStore: PostgresEventStore, readModels: PostgresReadModelStore): Promise<StreamLedger[]> {
  await rebuildProjection({ eventStore, readModels, projection: projectionFixtures.ledgerProjection({ name: 'clean-ledger' }) });
  return ledgers(readModels, 'clean-ledger');
}

async function positions(eventStore: PostgresEventStore): Promise<Position[]> {
  const all: Position[] = [];
  for await (const event of eventStore.readAll()) all.push(event.position);
  return all;
}

describe.skipIf(!postgresUrl)('projections across processes (postgres)', () => {
  it('a runner killed in the middle of a batch resumes without skipping or double-applying', async () => {
    const { eventStore, readModels, schema } = await openParent();
    const history = await projectionFixtures.appendOrders(eventStore, 40);
    const log = await positions(eventStore);
    expect(log).toHaveLength(history.events);
    const batchSize = 20;
    const stallAt = log[2 * batchSize + 7]!;

    const first = startRunner(schema, 'first', { batchSize, leaseTtlMs: 1_000, stallAt });
    await first.waitFor(new RegExp(`^stalled ${stallAt}$`));
    // Two batches committed; the third is open, with 7 events applied in it, when the process dies.
    expect(await checkpoint(readModels)).toBe(log[2 * batchSize - 1]);
    await kill(first);
    expect(await checkpoint(readModels)).toBe(log[2 * batchSize - 1]);
    expect((await appliedBy(readModels)).size).toBe(2 * batchSize);

    const second = startRunner(schema, 'second', { batchSize, leaseTtlMs: 1_000 });
    await caughtUp(readModels, history.position);
    const applied = await appliedBy(readModels);
    expect(applied.size).toBe(history.events);
    const boundary = log[2 * batchSize - 1]!;
    for (const [position, owner] of applied) expect(owner, `event at ${position}`).toBe(position <= boundary ? 'first' : 'second');
    const resumed = await ledgers(readModels, 'crash-ledger');
    expect(resumed.every((l) => l.gaps === 0)).toBe(true);
    expect(resumed).toEqual(await cleanPass(eventStore, readModels));
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('two processes run the same projection: only the lease holder applies; the other takes over when it dies', async () => {
    const { eventStore, readModels, schema } = await openParent();
    const a = startRunner(schema, 'a', { batchSize: 10, leaseTtlMs: 1_000 });
    await a.waitFor(/^leading$/);
    const b = startRunner(schema, 'b', { batchSize: 10, leaseTtlMs: 1_000 });
    await b.waitFor(/^standby$/);

    const first = await projectionFixtures.appendOrders(eventStore, 20);
    await caughtUp(readModels, first.position);
    const before = await appliedBy(readModels);
    expect(before.size).toBe(first.events);
    expect(new Set(before.values())).toEqual(new Set(['a']));
    expect(b.lines).not.toContain('leading');

    await kill(a);
    const second = await projectionFixtures.appendOrders(eventStore, 20);
    await b.waitFor(/^leading$/, 10_000);
    await caughtUp(readModels, second.position);
    const after = await appliedBy(readModels);
    expect(after.size).toBe(first.events + second.events);
    for (const [position, owner] of after) expect(owner, `event at ${position}`).toBe(position <= first.position ? 'a' : 'b');
    const all = await ledgers(readModels, 'crash-ledger');
    expect(all).toHaveLength(40);
    expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
