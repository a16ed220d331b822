/**
 * Projections across real processes on one storage: a runner killed in the middle of a batch
 * resumes without skipping or double-applying, repeated kills end equal to a clean pass, and of
 * two runners only the lease holder applies. The runners run in child processes
 * (`runner-process.ts`), which open the same storage through the adapter's module.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rebuildProjection, type EventStore, type Position, type ReadModelStore } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { appendOrders, ledgerProjection, type StreamLedger } from './fixtures.js';

const CHILD = fileURLToPath(new URL('./runner-process.ts', import.meta.url));
const NAMESPACE = 'crash-ledger@1';

/** What the adapter's module gives a child process: `export async function openStores(env): Promise<ProjectionProcessStores>`. */
export interface ProjectionProcessStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** Closes everything `openStores` opened. */
  close(): Promise<void>;
}

export interface CreatedProcessStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /**
   * How a child process opens the same storage: `module` (a file path or package name) exports
   * `openStores(env): Promise<ProjectionProcessStores>`, called with `env`.
   */
  readonly child: { readonly module: string; readonly env: Readonly<Record<string, string>> };
  /** Releases what `create` made; called after each test, once the stores are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface ProjectionProcessConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. */
  readonly name: string;
  /** Fresh, empty stores per call, reachable from another process. */
  readonly create: () => Promise<CreatedProcessStores>;
}

interface Runner {
  readonly child: ChildProcess;
  readonly lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | null>;
}

interface RunnerOptions {
  readonly batchSize: number;
  readonly leaseTtlMs: number;
  readonly stallAt?: Position;
  readonly slowMs?: number;
}

export function runProjectionProcessConformance(options: ProjectionProcessConformanceOptions): void {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const openParent = async (): Promise<CreatedProcessStores> => {
    const created = await options.create();
    cleanups.push(async () => {
      await created.readModels.close().catch(() => undefined);
      await created.eventStore.close().catch(() => undefined);
      await created.cleanup?.();
    });
    return created;
  };

  function startRunner(stores: CreatedProcessStores, owner: string, runner: RunnerOptions): Runner {
    const args = [
      stores.child.module,
      JSON.stringify(stores.child.env),
      owner,
      String(runner.batchSize),
      String(runner.leaseTtlMs),
      runner.stallAt?.toString() ?? '-',
      String(runner.slowMs ?? 0),
    ];
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  const checkpoint = (readModels: ReadModelStore): Promise<Position | null> => readModels.transaction((tx) => tx.getCheckpoint(NAMESPACE), { readOnly: true });

  /** Until the checkpoint passes `position` (a head read now may lag it while other transactions are in flight). */
  async function caughtUp(readModels: ReadModelStore, position: Position, timeoutMs = 30_000): Promise<void> {
    await expect.poll(async () => ((await checkpoint(readModels)) ?? 0n) >= position, { timeout: timeoutMs, interval: 25 }).toBe(true);
  }

  const ledgers = async (readModels: ReadModelStore, name: string): Promise<StreamLedger[]> =>
    (await readModels.read(name, (v) => v.collection<StreamLedger>('ledgers').find())).sort((a, b) => a.streamId.localeCompare(b.streamId));

  const appliedBy = async (readModels: ReadModelStore): Promise<Map<bigint, string>> =>
    new Map(
      (await readModels.read({ name: 'crash-ledger', version: 1 }, (v) => v.collection<{ owner: string; position: string }>('applied').find())).map((doc) => [
        BigInt(doc.position),
        doc.owner,
      ]),
    );

  /** The same ledger built by one clean pass in this process, under another name. */
  async function cleanPass(eventStore: EventStore, readModels: ReadModelStore): Promise<StreamLedger[]> {
    await rebuildProjection({ eventStore, readModels, projection: ledgerProjection({ name: 'clean-ledger' }) });
    return ledgers(readModels, 'clean-ledger');
  }

  /** The log's positions in order (they need not be contiguous). */
  async function positions(eventStore: EventStore): Promise<Position[]> {
    const all: Position[] = [];
    for await (const event of eventStore.readAll()) all.push(event.position);
    return all;
  }

  describe(`projections across processes (${options.name})`, () => {
    it('a runner killed in the middle of a batch resumes without skipping or double-applying', async () => {
      const stores = await openParent();
      const { eventStore, readModels } = stores;
      const history = await appendOrders(eventStore, 60);
      const log = await positions(eventStore);
      expect(log).toHaveLength(history.events);
      const batchSize = 25;
      const boundary = log[2 * batchSize - 1]!;
      const stallAt = log[2 * batchSize + 12]!;

      const first = startRunner(stores, 'first', { batchSize, leaseTtlMs: 1_000, stallAt });
      await first.waitFor(new RegExp(`^stalled ${stallAt}$`));
      // Two batches committed; the third is open, with 12 events applied in it, when the process dies.
      expect(await checkpoint(readModels)).toBe(boundary);
      await kill(first);
      expect(await checkpoint(readModels)).toBe(boundary);
      expect((await appliedBy(readModels)).size).toBe(2 * batchSize);

      const second = startRunner(stores, 'second', { batchSize, leaseTtlMs: 1_000 });
      await caughtUp(readModels, history.position);
      const applied = await appliedBy(readModels);
      expect(applied.size).toBe(history.events);
      for (const [position, owner] of applied) expect(owner, `event at ${position}`).toBe(position <= boundary ? 'first' : 'second');
      const resumed = await ledgers(readModels, 'crash-ledger');
      expect(resumed.every((l) => l.gaps === 0)).toBe(true);
      expect(resumed).toEqual(await cleanPass(eventStore, readModels));
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    });

    it('survives repeated kills at random moments and ends equal to a clean pass', async () => {
      const stores = await openParent();
      const { eventStore, readModels } = stores;
      const history = await appendOrders(eventStore, 80);
      let kills = 0;
      for (let round = 0; round < 3; round++) {
        // 5 ms per event: the ~190 events need ~1 s, more than the three rounds run, so every kill lands mid-run.
        const runner = startRunner(stores, `round-${round}`, { batchSize: 15, leaseTtlMs: 200, slowMs: 5 });
        await runner.waitFor(/^leading$/);
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 150)));
        await kill(runner);
        kills++;
        // An expired lease lets the next runner in.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const progressBeforeLast = await checkpoint(readModels);
      expect(progressBeforeLast === null || progressBeforeLast < history.position).toBe(true);
      const last = startRunner(stores, 'last', { batchSize: 15, leaseTtlMs: 200 });
      await caughtUp(readModels, history.position);
      expect(kills).toBe(3);
      expect((await appliedBy(readModels)).size).toBe(history.events);
      const resumed = await ledgers(readModels, 'crash-ledger');
      expect(resumed.every((l) => l.gaps === 0)).toBe(true);
      expect(resumed).toEqual(await cleanPass(eventStore, readModels));
      last.child.kill('SIGTERM');
      await last.exited;
    });

    it('two processes run the same projection: only the lease holder applies; the other takes over when it dies', async () => {
      const stores = await openParent();
      const { eventStore, readModels } = stores;
      const a = startRunner(stores, 'a', { batchSize: 10, leaseTtlMs: 1_000 });
      await a.waitFor(/^leading$/);
      const b = startRunner(stores, 'b', { batchSize: 10, leaseTtlMs: 1_000 });
      await b.waitFor(/^standby$/);

      const first = await appendOrders(eventStore, 30);
      await caughtUp(readModels, first.position);
      const before = await appliedBy(readModels);
      expect(before.size).toBe(first.events);
      expect(new Set(before.values())).toEqual(new Set(['a']));
      expect(b.lines).not.toContain('leading');

      await kill(a);
      const second = await appendOrders(eventStore, 30);
      await b.waitFor(/^leading$/, 10_000);
      await caughtUp(readModels, second.position);
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
}
