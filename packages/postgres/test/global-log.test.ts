/**
 * The global log never skips: a reader must not move past a position below which something can
 * still commit. Positions come from the tenant's log head, whose row an append holds until it
 * commits (migration 3), so appends commit in position order and a reader sees every committed
 * event. These tests hold transactions open (inside an append, through an inline handler), roll
 * them back, and race many writers against a subscriber.
 */
import { collect, type RecordedEvent } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { PostgresEventStore } from '../src/index.js';
import { openTestStore, postgresUrl, type TestStore } from './support.js';

/** A promise with its resolve, to hold a transaction open until the test lets go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function eventually(assertion: () => void | Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Holds the transaction of every append to `slowStream` open until `release` is called. */
function holdAppendsTo(store: PostgresEventStore, slowStream: string) {
  const entered = gate();
  const release = gate();
  let held: readonly RecordedEvent[] = [];
  let fail = false;
  store.addInlineHandler(async (events) => {
    if (events[0]!.streamId !== slowStream) return;
    held = events;
    entered.open();
    await release.promise;
    if (fail) throw new Error('rolled back on purpose');
  });
  return {
    entered: entered.promise,
    events: () => held,
    commit: () => release.open(),
    rollBack: () => {
      fail = true;
      release.open();
    },
  };
}

describe.skipIf(!postgresUrl)('the global log never skips a late commit', () => {
  let opened: TestStore[] = [];
  afterEach(async () => {
    for (const t of opened) await t.cleanup();
    opened = [];
  });
  async function open(): Promise<PostgresEventStore> {
    const t = await openTestStore();
    opened.push(t);
    return t.store;
  }

  it('an append in flight holds the tenant\'s later appends until it commits; readers see all that committed meanwhile', async () => {
    const store = await open();
    const hold = holdAppendsTo(store, 'slow-1');
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribe({ pollIntervalMs: 20, handler: (e) => void seen.push(e) });
    try {
      const before = await store.appendToStream('before-1', [{ type: 'Before', data: {} }]);
      const slow = store.appendToStream('slow-1', [{ type: 'Slow', data: {} }]);
      await hold.entered;
      const [slowEvent] = hold.events();
      expect(slowEvent!.position).toBe(before.position + 1n);
      let fastDone = false;
      const fast = store.appendToStream('fast-a', [{ type: 'Fast', data: { n: 1 } }]).finally(() => (fastDone = true));

      await new Promise((resolve) => setTimeout(resolve, 300));
      // The later append waits for the log head; readers are not held back at all.
      expect(fastDone).toBe(false);
      expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['before-1']);
      expect(await store.headPosition()).toBe(before.position);
      await subscription.waitFor(before.position, 5_000);

      hold.commit();
      await slow;
      const fastA = await fast;
      expect(fastA.position).toBe(slowEvent!.position + 1n);
      await eventually(() => expect(seen.map((e) => e.streamId)).toEqual(['before-1', 'slow-1', 'fast-a']));
      expect((await collect(store.readAll())).map((e) => e.id)).toEqual(seen.map((e) => e.id));
      expect(await store.headPosition()).toBe(fastA.position);
    } finally {
      hold.commit();
      await subscription.stop();
    }
  });

  it('never shows a rolled-back append; the next append takes its positions, so the log has no gap', async () => {
    const store = await open();
    const hold = holdAppendsTo(store, 'doomed-1');
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribe({ pollIntervalMs: 20, handler: (e) => void seen.push(e) });
    try {
      const doomed = store.appendToStream('doomed-1', [{ type: 'Doomed', data: {} }]);
      await hold.entered;
      const [doomedEvent] = hold.events();
      const kept = store.appendToStream('kept-1', [{ type: 'Kept', data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      hold.rollBack();
      await expect(doomed).rejects.toThrow('rolled back on purpose');
      const keptResult = await kept;
      expect(keptResult.position).toBe(doomedEvent!.position);
      await subscription.waitFor(keptResult.position, 15_000);
      expect(seen.map((e) => e.streamId)).toEqual(['kept-1']);
      const log = await collect(store.readAll());
      expect(log.map((e) => e.id)).toEqual([keptResult.events[0]!.id]);
      expect(log.some((e) => e.id === doomedEvent!.id)).toBe(false);
      expect((await store.streamInfo('doomed-1')).version).toBe(0n);
    } finally {
      hold.rollBack();
      await subscription.stop();
    }
  });

  it('delivers every committed event of many concurrent writers exactly once, in order, and none rolled back', async () => {
    const store = await open();
    const writers = 12;
    const appendsPerWriter = 40;
    store.addInlineHandler(async (events) => {
      // Random time inside the transaction, and some rollbacks, so commits overtake one another.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      if ((events[0]!.data as { doom: boolean }).doom) throw new Error('rolled back');
    });
    const delivered: RecordedEvent[] = [];
    const subscription = store.subscribe({ pollIntervalMs: 50, batchSize: 64, handler: (e) => void delivered.push(e) });
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let last = 0n;
    try {
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < appendsPerWriter; i++) {
            const doom = Math.random() < 0.15;
            const events = Array.from({ length: 1 + (i % 3) }, (_, k) => ({ id: crypto.randomUUID(), type: 'Raced', data: { w, i, k, doom } }));
            try {
              const result = await store.appendToStream(`race-${w}-${i % 5}`, events);
              for (const e of result.events) committed.add(e.id);
              if (result.position > last) last = result.position;
            } catch {
              for (const e of events) rolledBack.add(e.id);
            }
          }
        }),
      );
      await subscription.waitFor(last, 30_000);
    } finally {
      await subscription.stop();
    }
    const ids = delivered.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(committed);
    expect(ids.some((id) => rolledBack.has(id))).toBe(false);
    expect(rolledBack.size).toBeGreaterThan(0);
    for (let i = 1; i < delivered.length; i++) expect(delivered[i]!.position).toBeGreaterThan(delivered[i - 1]!.position);
    // Within a stream, log order is version order.
    const versions = new Map<string, bigint>();
    for (const event of delivered) {
      expect(event.streamVersion).toBe((versions.get(event.streamId) ?? 0n) + 1n);
      versions.set(event.streamId, event.streamVersion);
    }
    expect((await collect(store.readAll())).map((e) => e.id)).toEqual(ids);
  });
});
