/**
 * Another process holding the write lock must never block this process's event loop: writers wait
 * for it asynchronously, for at most the store's `busyTimeoutMs`, then fail with StoreBusyError
 * having written nothing. A child process holds the lock; a 10 ms timer here must keep firing.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collect, defineProjection, ProjectionRunner, StoreBusyError, type Position } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteReadModels, type SqliteEventStore, type SqliteProjectionHandle } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

const HOLDER = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface HeldLock {
  /** Resolves once the child holds the lock. */
  readonly locked: Promise<void>;
  /** Resolves with Date.now() when the child says it released the lock. */
  readonly released: Promise<number>;
}

function holdLock(filename: string, holdMs: number): HeldLock {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, filename, String(holdMs)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let output = '';
  const seen = (word: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const look = (): void => {
        if (output.includes(word)) resolve(Date.now());
      };
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        look();
      });
      child.on('exit', (code) => {
        look();
        reject(new Error(`lock holder exited (code ${code}) before "${word}"; stderr: ${stderr}`));
      });
    });
  return { locked: seen('locked').then(() => undefined), released: seen('released') };
}

/** Records the longest gap between the ticks of a 10 ms timer. */
function watchEventLoop(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

let file: TempFile;
const stores: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const store of stores.splice(0).reverse()) await store.close();
  file?.remove();
});

function open(options: { busyTimeoutMs?: number } = {}): SqliteEventStore {
  const store = openSqliteEventStore({ filename: file.filename, durability: 'normal', ...options });
  stores.push(store);
  return store;
}

describe('a write lock held by another process', () => {
  it('does not block the event loop: appends, checkpoint writes and opening wait, then go through', { timeout: 60_000 }, async () => {
    file = tempFile();
    const store = open();
    await store.appendToStream('order-1', [{ type: 'Placed', data: { n: 1 } }]);
    const handled: Position[] = [];
    const readModels = openSqliteReadModels({ database: store.database });
    const counter = defineProjection<{ type: 'Placed'; data: { n: number } }, SqliteProjectionHandle>({
      name: 'placed-count',
      version: 1,
      handlers: {
        Placed: (event, read) => void read.collection<{ n: number }>('placed').upsert(String(event.data.n), { n: event.data.n }),
      },
    });
    const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [counter], pollIntervalMs: 20 });
    const runnerErrors: unknown[] = [];
    runner.onEvent((event) => {
      if (event.type === 'error') runnerErrors.push(event.error);
    });

    const lock = holdLock(file.filename, 10_000);
    await lock.locked;
    const loop = watchEventLoop();

    // Opening a second store on an up-to-date file needs no write lock.
    const second = open();
    expect(await second.headPosition()).toBe(1n);

    // A named subscription's checkpoint write meets the lock and waits for it.
    const subscription = store.subscribe({
      subscriptionId: 'during-lock',
      pollIntervalMs: 20,
      handler: (event) => {
        handled.push(event.position);
      },
    });
    // A projection runner's lease and batches meet it too.
    await runner.start();
    const appended = store.appendToStream('order-2', [{ type: 'Placed', data: { n: 2 } }]);
    let appendedAt = 0;
    void appended.then(() => (appendedAt = Date.now()), () => undefined);

    const releasedAt = await lock.released;
    const result = await appended;
    const longestGap = loop.stop();

    expect(longestGap).toBeLessThan(200);
    expect(appendedAt).toBeGreaterThanOrEqual(releasedAt - 50);
    expect(result.position).toBe(2n);
    await subscription.waitFor(2n, 10_000);
    expect(subscription.status).toBe('live');
    expect(handled).toEqual([1n, 2n]);
    await expect.poll(() => store.checkpoints.load('during-lock'), { timeout: 10_000 }).toBe(2n);
    // Still running after the lock: it delivers what comes next.
    const third = await store.appendToStream('order-3', [{ type: 'Placed', data: { n: 3 } }]);
    await subscription.waitFor(third.position, 10_000);
    await subscription.stop();
    await runner.waitForPosition('placed-count', third.position, 20_000);
    await expect.poll(() => runner.status('placed-count').status, { timeout: 10_000 }).toBe('live');
    expect(runnerErrors.map(String)).toEqual([]);
    expect(await readModels.read('placed-count', (view) => view.collection('placed').count())).toBe(3);
    await runner.stop();
  });

  it('with a short busyTimeoutMs, an append fails with STORE_BUSY and nothing is written', { timeout: 60_000 }, async () => {
    file = tempFile();
    const store = open({ busyTimeoutMs: 300 });
    // Created before the lock: creating its tables needs the write lock itself.
    const readModels = openSqliteReadModels({ database: store.database });
    // Long enough for each of the calls below to wait out its 300 ms.
    const lock = holdLock(file.filename, 6_000);
    await lock.locked;
    const loop = watchEventLoop();
    const started = Date.now();
    const error = await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]).then(
      () => null,
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    expect(loop.stop()).toBeLessThan(200);
    expect(error).toBeInstanceOf(StoreBusyError);
    expect((error as StoreBusyError).code).toBe('STORE_BUSY');
    expect(waited).toBeGreaterThanOrEqual(250);
    await expect(store.setStreamMetadata('order-1', { maxCount: 3 })).rejects.toBeInstanceOf(StoreBusyError);
    await expect(store.checkpoints.store('sub', 1n)).rejects.toBeInstanceOf(StoreBusyError);
    await expect(readModels.tryAcquireLease('lease', 'me', 1_000)).rejects.toBeInstanceOf(StoreBusyError);
    await expect(store.deleteStream('order-1')).rejects.toBeInstanceOf(StoreBusyError);
    const snapshot = { streamId: 'order-1', version: 1n, schemaVersion: 1, state: {}, time: new Date().toISOString() };
    await expect(store.snapshots.save(snapshot)).rejects.toBeInstanceOf(StoreBusyError);
    await expect(readModels.transaction((tx) => tx.setActiveVersion('p', 1))).rejects.toBeInstanceOf(StoreBusyError);
    await lock.released;
    expect(await collect(store.readAll())).toEqual([]);
    expect((await store.streamInfo('order-1')).metadata).toEqual({});
    expect(await store.checkpoints.load('sub')).toBeNull();
    expect(await store.snapshots.load('order-1')).toBeNull();
    expect(await readModels.transaction((tx) => tx.getActiveVersion('p'))).toBeNull();
    // Once the lock is gone the same store writes again.
    expect((await store.appendToStream('order-1', [{ type: 'Placed', data: {} }])).position).toBe(1n);
  });

  it('opening a file that still needs its tables waits at most busyTimeoutMs, then STORE_BUSY', { timeout: 60_000 }, async () => {
    file = tempFile();
    const lock = holdLock(file.filename, 3_000);
    await lock.locked;
    const error = (() => {
      try {
        open({ busyTimeoutMs: 200 });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StoreBusyError);
    expect((error as StoreBusyError).waitedMs).toBe(200);
    expect((error as Error).message).toContain(file.filename);
    await lock.released;
    // Once the lock is gone the file opens and gets its tables.
    const store = open();
    expect(await store.headPosition()).toBe(0n);
  });

  it('a named subscription whose checkpoint write gives up on the lock carries on once it is released', { timeout: 60_000 }, async () => {
    file = tempFile();
    const store = open({ busyTimeoutMs: 100 });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const lock = holdLock(file.filename, 2_000);
    await lock.locked;
    const handled: Position[] = [];
    const subscription = store.subscribe({ subscriptionId: 'patient', pollIntervalMs: 20, retryDelayMs: 20, handler: (event) => void handled.push(event.position) });
    await lock.released;
    const next = await store.appendToStream('order-2', [{ type: 'Placed', data: {} }]);
    await subscription.waitFor(next.position, 20_000);
    expect(subscription.status).not.toBe('failed');
    await expect.poll(() => store.checkpoints.load('patient'), { timeout: 10_000 }).toBe(next.position);
    expect(handled).toEqual([1n, 2n]);
    await subscription.stop();
  });

  it('refuses a busyTimeoutMs that is not a non-negative number', () => {
    file = tempFile();
    expect(() => openSqliteEventStore({ filename: file.filename, busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(() => openSqliteEventStore({ filename: file.filename, busyTimeoutMs: Number.NaN })).toThrow(/busyTimeoutMs/);
  });
});
