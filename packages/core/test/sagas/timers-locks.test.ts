import { InvalidArgumentError, MemoryEventStore, ResourceLockedError, SemanticLocks, TimerService, VirtualClock, type DueTimer } from '@eventloom/core';
import { describe, expect, it } from 'vitest';

describe('TimerService (virtual clock)', () => {
  it('fires a timer once, after its due time, and not before', async () => {
    const store = new MemoryEventStore();
    const clock = new VirtualClock();
    const fired: DueTimer[] = [];
    const timers = new TimerService({ store, clock, onFire: (t) => void fired.push(t), logger: false });
    await timers.schedule('pay-1', { delayMs: 15 * 60_000 }, { orderId: '1' });
    clock.advance(15 * 60_000 - 1);
    expect(await timers.fireDue()).toBe(0);
    clock.advance(1);
    expect(await timers.fireDue()).toBe(1);
    expect(await timers.fireDue()).toBe(0);
    expect(fired.map((t) => t.payload)).toEqual([{ orderId: '1' }]);
    expect(await timers.get('pay-1')).toMatchObject({ state: 'fired', firedAt: '2026-01-01T00:15:00.000Z' });
  });

  it('does not fire a cancelled timer; a rescheduled one fires at its new time with a new fire key', async () => {
    const store = new MemoryEventStore();
    const clock = new VirtualClock();
    const fired: DueTimer[] = [];
    const timers = new TimerService({ store, clock, onFire: (t) => void fired.push(t), logger: false });
    await timers.schedule('a', { delayMs: 1000 });
    await timers.schedule('b', { delayMs: 1000 });
    const firstKey = (await timers.get('b'))!.generation;
    expect(await timers.cancel('a')).toBe(true);
    expect(await timers.cancel('a')).toBe(false);
    expect(await timers.reschedule('b', { delayMs: 5000 })).toBe(true);
    clock.advance(1000);
    expect(await timers.fireDue()).toBe(0);
    clock.advance(4000);
    expect(await timers.fireDue()).toBe(1);
    expect(fired.map((t) => t.id)).toEqual(['b']);
    expect(fired[0]!.generation).toBe(firstKey + 1);
    expect((await timers.list({ state: 'cancelled' })).map((t) => t.id)).toEqual(['a']);
    await expect(timers.schedule('', { delayMs: 1 })).rejects.toThrow(InvalidArgumentError);
  });

  it('survives a restart: a new service on the same store fires what the old one scheduled, once', async () => {
    const store = new MemoryEventStore();
    const clock = new VirtualClock();
    const keys: string[] = [];
    const before = new TimerService({ store, clock, onFire: () => { throw new Error('process dies mid-handler'); }, logger: false });
    await before.schedule('t', { delayMs: 10 });
    clock.advance(10);
    expect(await before.fireDue()).toBe(0);
    const after = new TimerService({ store, clock, onFire: (t) => void keys.push(t.fireKey), logger: false });
    expect(await after.fireDue()).toBe(1);
    const again = new TimerService({ store, clock, onFire: (t) => void keys.push(t.fireKey), logger: false });
    expect(await again.fireDue()).toBe(0);
    expect(keys).toHaveLength(1);
  });

  it('start() fires due timers on the system clock without being asked', async () => {
    const store = new MemoryEventStore();
    let resolve!: (id: string) => void;
    const done = new Promise<string>((r) => (resolve = r));
    const timers = new TimerService({ store, pollIntervalMs: 5, onFire: (t) => resolve(t.id), logger: false });
    await timers.schedule('soon', { delayMs: 20 });
    timers.start();
    try {
      expect(await done).toBe('soon');
    } finally {
      await timers.stop();
    }
  });
});

describe('SemanticLocks', () => {
  it('holds a resource for one owner and refuses others until release', async () => {
    const locks = new SemanticLocks({ store: new MemoryEventStore() });
    await locks.acquire('stock-keyboard', 'saga-1', { state: 'RESERVED' });
    await expect(locks.acquire('stock-keyboard', 'saga-2')).rejects.toMatchObject({ code: 'RESOURCE_LOCKED', holder: 'saga-1', state: 'RESERVED' });
    // The owner may move its own lock on (RESERVED → AUTHORIZED).
    await expect(locks.acquire('stock-keyboard', 'saga-1', { state: 'AUTHORIZED' })).resolves.toMatchObject({ state: 'AUTHORIZED' });
    expect(await locks.release('stock-keyboard', 'saga-2')).toBe(false);
    expect(await locks.release('stock-keyboard', 'saga-1')).toBe(true);
    expect(await locks.holder('stock-keyboard')).toBeNull();
    await expect(locks.acquire('stock-keyboard', 'saga-2')).resolves.toMatchObject({ owner: 'saga-2', state: 'PENDING' });
  });

  it('frees an expired lock', async () => {
    const clock = new VirtualClock();
    const locks = new SemanticLocks({ store: new MemoryEventStore(), clock });
    await locks.acquire('order-1', 'saga-1', { state: 'PENDING_PAYMENT', ttlMs: 1000 });
    clock.advance(999);
    await expect(locks.acquire('order-1', 'saga-2')).rejects.toThrow(ResourceLockedError);
    clock.advance(1);
    await expect(locks.acquire('order-1', 'saga-2')).resolves.toMatchObject({ owner: 'saga-2' });
  });

  it('lets exactly one of many racing owners win', async () => {
    const locks = new SemanticLocks({ store: new MemoryEventStore() });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => locks.acquire('r', `owner-${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ResourceLockedError)).toBe(true);
  });
});
