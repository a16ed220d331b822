/**
 * Projections across real processes on one SQLite file: a runner killed in the middle of a batch
 * resumes without skipping or double-applying, and of two runners only the lease holder applies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rebuildProjection } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteReadModels, type SqliteEventStore, type SqliteReadModelStore } from '../../src/index.js';
import { tempDir } from './temp-dir.js';

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

function startRunner(file: string, owner: string, options: { batchSize: number; leaseTtlMs: number; stallAt?: bigint; slowMs?: number }): Runner {
  const args = [file, owner, String(options.batchSize), String(options.leaseTtlMs), options.stallAt?.toString() ?? '-', String(options.slowMs ?? 0)];
  const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', SCRIPT, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
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

function openParent(): { eventStore: SqliteEventStore; readModels: SqliteReadModelStore; file: string } {
  const dir = tempDir();
  const file = dir.file('app.db');
  const eventStore = openSqliteEventStore({ filename: file, durability: 'normal' });
  const readModels = openSqliteReadModels({ database: eventStore.database });
  cleanups.push(() => dir.remove());
  cleanups.push(() => eventStore.close());
  return { eventStore, readModels, file };
}

const checkpoint = (readModels: SqliteReadModelStore): Promise<bigint | null> => readModels.transaction((tx) => tx.getCheckpoint(NAMESPACE), { readOnly: true });

async function caughtUp(readModels: SqliteReadModelStore, eventStore: SqliteEventStore, timeoutMs = 30_000): Promise<void> {
  const head = await eventStore.headPosition();
  await expect.poll(() => checkpoint(readModels), { timeout: timeoutMs, interval: 25 }).toBe(head);
}

const ledgers = async (readModels: SqliteReadModelStore, name: string): Promise<StreamLedger[]> =>
  (await readModels.read(name, (v) => v.collection<StreamLedger>('ledgers').find())).sort((a, b) => a.streamId.localeCompare(b.streamId));

const appliedBy = async (readModels: SqliteReadModelStore): Promise<Map<bigint, string>> =>
  new Map(
    (await readModels.read({ name: 'crash-ledger', version: 1 }, (v) => v.collection<{ owner: string; position: string }>('applied').find())).map((doc) => [
      BigInt(doc.position),
      doc.owner,
    ]),
  );

/** The same ledger built by one clean pass in this process, under another name. */
async function cleanPass(eventStore: SqliteEventStore, readModels: SqliteReadModelStore): Promise<StreamLedger[]> {
  await rebuildProjection({ eventStore, readModels, projection: projectionFixtures.ledgerProjection({ name: 'clean-ledger' }) });
  return await ledgers(readModels, 'clean-ledger');
}

describe('projections across processes (sqlite)', () => {
  it('a runner killed in the middle of a batch resumes without skipping or double-applying', async () => {
    const { eventStore, readModels, file } = openParent();
    const history = await projectionFixtures.appendOrders(eventStore, 60);
    expect(history.position).toBe(BigInt(history.events));
    const batchSize = 25;
    const stallAt = 2n * BigInt(batchSize) + 13n;

    const first = startRunner(file, 'first', { batchSize, leaseTtlMs: 1_000, stallAt });
    await first.waitFor(new RegExp(`^stalled ${stallAt}$`));
    // Two batches committed; the third is open, with 12 events applied in it, when the process dies.
    expect(await checkpoint(readModels)).toBe(2n * BigInt(batchSize));
    await kill(first);
    expect(await checkpoint(readModels)).toBe(2n * BigInt(batchSize));
    expect((await appliedBy(readModels)).size).toBe(2 * batchSize);

    const second = startRunner(file, 'second', { batchSize, leaseTtlMs: 1_000 });
    await caughtUp(readModels, eventStore);
    const applied = await appliedBy(readModels);
    expect(applied.size).toBe(history.events);
    for (const [position, owner] of applied) expect(owner, `event at ${position}`).toBe(position <= 2n * BigInt(batchSize) ? 'first' : 'second');
    const resumed = await ledgers(readModels, 'crash-ledger');
    expect(resumed.every((l) => l.gaps === 0)).toBe(true);
    expect(resumed).toEqual(await cleanPass(eventStore, readModels));
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('survives repeated kills at random moments and ends equal to a clean pass', async () => {
    const { eventStore, readModels, file } = openParent();
    const history = await projectionFixtures.appendOrders(eventStore, 80);
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      // 5 ms per event: the ~190 events need ~1 s, more than the three rounds run, so every kill lands mid-run.
      const runner = startRunner(file, `round-${round}`, { batchSize: 15, leaseTtlMs: 200, slowMs: 5 });
      await runner.waitFor(/^leading$/);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 150)));
      await kill(runner);
      kills++;
      // An expired lease lets the next runner in.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const progressBeforeLast = await checkpoint(readModels);
    expect(progressBeforeLast === null || progressBeforeLast < history.position).toBe(true);
    const last = startRunner(file, 'last', { batchSize: 15, leaseTtlMs: 200 });
    await caughtUp(readModels, eventStore);
    expect(kills).toBe(3);
    expect((await appliedBy(readModels)).size).toBe(history.events);
    const resumed = await ledgers(readModels, 'crash-ledger');
    expect(resumed.every((l) => l.gaps === 0)).toBe(true);
    expect(resumed).toEqual(await cleanPass(eventStore, readModels));
    last.child.kill('SIGTERM');
    await last.exited;
  });

  it('two processes run the same projection: only the lease holder applies; the other takes over when it dies', async () => {
    const { eventStore, readModels, file } = openParent();
    const a = startRunner(file, 'a', { batchSize: 10, leaseTtlMs: 1_000 });
    await a.waitFor(/^leading$/);
    const b = startRunner(file, 'b', { batchSize: 10, leaseTtlMs: 1_000 });
    await b.waitFor(/^standby$/);

    const first = await projectionFixtures.appendOrders(eventStore, 30);
    await caughtUp(readModels, eventStore);
    const before = await appliedBy(readModels);
    expect(before.size).toBe(first.events);
    expect(new Set(before.values())).toEqual(new Set(['a']));
    expect(b.lines).not.toContain('leading');

    await kill(a);
    const second = await projectionFixtures.appendOrders(eventStore, 30);
    await b.waitFor(/^leading$/, 10_000);
    await caughtUp(readModels, eventStore);
    const after = await appliedBy(readModels);
    expect(after.size).toBe(first.events + second.events);
    for (const [position, owner] of after) expect(owner, `event at ${position}`).toBe(position <= first.position ? 'a' : 'b');
    const all = await ledgers(readModels, 'crash-ledger');
    expect(all).toHaveLength(60);
    expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
