/**
 * The `waitForPosition` cases of the read-model store conformance suite: read-your-writes by
 * position with no runner, woken by commits (in this process, and — where the store has such a
 * thing — through another connection to the same data).
 */
import {
  InvalidArgumentError,
  ProjectionWaitTimeoutError,
  SubscriptionFailedError,
  type ProjectionFailure,
  type ReadModelStore,
} from '@eventloom/core';
import { projectionNamespace, type ProjectionNamespace } from '@eventloom/core/adapter';
import { describe, expect } from 'vitest';

type Test = (name: string, fn: (context: { skip: () => void }) => Promise<void>) => void;

let unique = 0;
function ns(version = 1): ProjectionNamespace {
  unique++;
  return projectionNamespace(`wait-${process.pid}-${unique}`, version);
}

function failureAt(position: bigint): ProjectionFailure {
  return {
    position,
    eventId: '0190c3f2-0000-7000-8000-0000000000aa',
    eventType: 'OrderPaid',
    streamId: 'order-1',
    error: 'Error: cannot pay',
    stack: null,
    attempts: 2,
    failedAt: '2025-01-01T00:00:00.000Z',
  };
}

/** Settles to 'pending' when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** A served projection version with its checkpoint at `checkpoint`. */
async function served(readModels: ReadModelStore, p: ProjectionNamespace, checkpoint: bigint | null): Promise<void> {
  await readModels.transaction(async (tx) => {
    await tx.createState(p);
    if (checkpoint !== null) await tx.setCheckpoint(p.namespace, checkpoint);
    if ((await tx.getActiveVersion(p.name)) === null) await tx.setActiveVersion(p.name, p.version);
  });
}

export function waitCases(test: Test, store: () => Promise<ReadModelStore>, withPeer: () => Promise<{ readModels: ReadModelStore; peer: ReadModelStore | null }>): void {
  describe('waitForPosition', () => {
    test('resolves at once when the serving version is already there; position 0 is covered by nothing', async () => {
      const readModels = await store();
      const p = ns();
      await readModels.waitForPosition(p.name, 0n, { timeoutMs: 1_000 });
      await served(readModels, p, 7n);
      await readModels.waitForPosition(p.name, 7n, { timeoutMs: 1_000 });
      await readModels.waitForPosition(p.name, 3n, { timeoutMs: 0 });
      await readModels.waitForPosition({ name: p.name, version: 1 }, 7n);
    });

    test('resolves when a commit moves the checkpoint there, not before, and not on a rollback', async () => {
      const readModels = await store();
      const p = ns();
      await served(readModels, p, 1n);
      const waiting = readModels.waitForPosition(p.name, 5n, { timeoutMs: 20_000 });
      let settled = false;
      void waiting.then(() => (settled = true), () => (settled = true));
      await readModels.transaction((tx) => tx.setCheckpoint(p.namespace, 4n));
      await expect(
        readModels.transaction(async (tx) => {
          await tx.setCheckpoint(p.namespace, 9n);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await within(waiting, 100)).toBe('pending');
      expect(settled).toBe(false);
      await readModels.transaction((tx) => tx.setCheckpoint(p.namespace, 6n));
      expect(await within(waiting, 15_000)).toBeUndefined();
    });

    test('never sees a checkpoint or documents a transaction has not committed', async () => {
      const readModels = await store();
      const p = ns();
      await served(readModels, p, 1n);
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let written = (): void => undefined;
      const wrote = new Promise<void>((resolve) => (written = resolve));
      const open = readModels.transaction(async (tx) => {
        await tx.setCheckpoint(p.namespace, 5n);
        await tx.handle(p).collection('docs').upsert('a', { n: 1 });
        written();
        await gate; // holds the transaction open across an await
        throw new Error('rolled back');
      });
      await wrote;
      // a store may make these wait for the open transaction, or answer from what is committed — never from it
      const reading = readModels.read(p, (view) => view.collection('docs').get('a'));
      const waited = await readModels.waitForPosition(p.name, 5n, { timeoutMs: 300 }).then(
        () => 'reached',
        (e: unknown) => e,
      );
      expect(waited).toBeInstanceOf(ProjectionWaitTimeoutError);
      release();
      await expect(open).rejects.toThrow('rolled back');
      expect(await reading).toBeNull();
      expect((await readModels.listProjections()).find((s) => s.projection.namespace === p.namespace)?.checkpoint).toBe(1n);
    });

    test('waits while no version serves, then follows the one that does; or the version asked for', async () => {
      const readModels = await store();
      const v1 = ns();
      const v2 = projectionNamespace(v1.name, 2);
      const serving = readModels.waitForPosition(v1.name, 3n, { timeoutMs: 20_000 });
      const second = readModels.waitForPosition({ name: v1.name, version: 2 }, 3n, { timeoutMs: 20_000 });
      expect(await within(serving, 50)).toBe('pending');
      await served(readModels, v1, 3n);
      expect(await within(serving, 15_000)).toBeUndefined();
      // v1 serves and is there, but version 2 was asked for
      expect(await within(second, 50)).toBe('pending');
      await readModels.transaction(async (tx) => {
        await tx.createState(v2);
        await tx.setCheckpoint(v2.namespace, 3n);
      });
      expect(await within(second, 15_000)).toBeUndefined();
    });

    test('times out with PROJECTION_WAIT_TIMEOUT naming the version, the position and where it is', async () => {
      const readModels = await store();
      const p = ns();
      await served(readModels, p, 2n);
      const error = await readModels.waitForPosition(p.name, 10_000n, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProjectionWaitTimeoutError);
      expect(error).toMatchObject({ code: 'PROJECTION_WAIT_TIMEOUT', position: 10_000n, checkpoint: 2n, timeoutMs: 50 });
      expect((error as Error).message).toContain(`${p.namespace} did not reach position 10000 within 50 ms (it is at 2)`);
      const never = await readModels.waitForPosition(ns().name, 1n, { timeoutMs: 20 }).catch((e: unknown) => e);
      expect(never).toBeInstanceOf(ProjectionWaitTimeoutError);
    });

    test('rejects with SUBSCRIPTION_FAILED when the version is stopped on a failure at or before the position', async () => {
      const readModels = await store();
      const p = ns();
      await served(readModels, p, 2n);
      const waiting = readModels.waitForPosition(p.name, 8n, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      await readModels.transaction((tx) => tx.setFailure(p.namespace, failureAt(3n)));
      const error = await within(waiting, 15_000);
      expect(error).toBeInstanceOf(SubscriptionFailedError);
      expect(error).toMatchObject({ code: 'SUBSCRIPTION_FAILED', position: 3n, attempts: 2 });
      // before the failure is still reached
      await readModels.waitForPosition(p.name, 2n, { timeoutMs: 1_000 });
      // once the failure is cleared (a runner takes the projection up again), waiters wait
      await readModels.transaction((tx) => tx.setFailure(p.namespace, null));
      const again = readModels.waitForPosition(p.name, 8n, { timeoutMs: 20_000 });
      expect(await within(again, 50)).toBe('pending');
      await readModels.transaction((tx) => tx.setCheckpoint(p.namespace, 8n));
      expect(await within(again, 15_000)).toBeUndefined();
    });

    test('stops when its signal aborts, with the signal\'s reason', async () => {
      const readModels = await store();
      const p = ns();
      await served(readModels, p, null);
      const controller = new AbortController();
      const waiting = readModels.waitForPosition(p.name, 5n, { timeoutMs: 20_000, signal: controller.signal }).catch((e: unknown) => e);
      const reason = new Error('request cancelled');
      setTimeout(() => controller.abort(reason), 20);
      expect(await within(waiting, 15_000)).toBe(reason);
      await expect(readModels.waitForPosition(p.name, 5n, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });

    test('rejects bad arguments with INVALID_ARGUMENT', async () => {
      const readModels = await store();
      const p = ns();
      const attempts: [string, () => Promise<void>][] = [
        ['negative position', () => readModels.waitForPosition(p.name, -1n)],
        ['number position', () => readModels.waitForPosition(p.name, 1 as unknown as bigint)],
        ['bad name', () => readModels.waitForPosition('no such name!', 1n)],
        ['bad version', () => readModels.waitForPosition({ name: p.name, version: 0 }, 1n)],
        ['negative timeout', () => readModels.waitForPosition(p.name, 1n, { timeoutMs: -1 })],
        ['NaN timeout', () => readModels.waitForPosition(p.name, 1n, { timeoutMs: Number.NaN })],
      ];
      for (const [what, attempt] of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(InvalidArgumentError);
      }
    });

    test('a commit through another connection to the same data wakes the waiter', async (context) => {
        const { readModels, peer: other } = await withPeer();
        // Memory has no other connection: the store says so by giving no peer.
        if (!other) return context.skip();
        const p = ns();
        await served(readModels, p, 1n);
        const waiting = other.waitForPosition(p.name, 3n, { timeoutMs: 20_000 });
        expect(await within(waiting, 50)).toBe('pending');
        const committed = performance.now();
        await readModels.transaction((tx) => tx.setCheckpoint(p.namespace, 3n));
        expect(await within(waiting, 15_000)).toBeUndefined();
        // Not a speed assertion: only that it was woken well before its time-out.
        expect(performance.now() - committed).toBeLessThan(15_000);
    });
  });
}
