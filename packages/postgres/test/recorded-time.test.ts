/**
 * The recorded time never goes backwards within a stream: an appending process whose clock is
 * behind the stream's last event records that event's time instead. Other streams keep their own.
 */
import { collect } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, postgresUrl, type TestStore } from './support.js';

describe.skipIf(!postgresUrl)('recorded time', () => {
  let now = new Date('2026-01-01T12:00:00.000Z');
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore({ clock: () => now });
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('is clamped to the stream\'s last time when the clock goes back', async () => {
    const { store } = test;
    const first = await store.appendToStream('clock-1', [{ type: 'T', data: {} }]);
    expect(first.events[0]!.time).toBe('2026-01-01T12:00:00.000Z');
    now = new Date('2026-01-01T11:00:00.000Z');
    const id = crypto.randomUUID();
    const second = await store.appendToStream('clock-1', [{ id, type: 'T', data: {} }, { type: 'T', data: {} }]);
    expect(second.events.map((e) => e.time)).toEqual(['2026-01-01T12:00:00.000Z', '2026-01-01T12:00:00.000Z']);
    const other = await store.appendToStream('clock-2', [{ type: 'T', data: {} }]);
    expect(other.events[0]!.time).toBe('2026-01-01T11:00:00.000Z');
    now = new Date('2026-01-01T12:30:00.000Z');
    const third = await store.appendToStream('clock-1', [{ type: 'T', data: {} }]);
    expect(third.events[0]!.time).toBe('2026-01-01T12:30:00.000Z');
    expect((await collect(store.readStream('clock-1'))).map((e) => e.time)).toEqual([
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T12:30:00.000Z',
    ]);
    // An exact retry answers with what was recorded.
    now = new Date('2026-01-01T10:00:00.000Z');
    const retry = await store.appendToStream('clock-1', [{ id, type: 'T', data: {} }, { id: second.events[1]!.id, type: 'T', data: {} }]);
    expect(retry.idempotent).toBe(true);
    expect(retry.events.map((e) => e.time)).toEqual(second.events.map((e) => e.time));
  });
});
