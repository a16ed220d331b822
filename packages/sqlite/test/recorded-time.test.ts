/** Recorded time never goes backwards within a stream: the store's clock, clamped to the stream's last event time. */
import { collect } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

let file: TempFile;
const stores: SqliteEventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  file?.remove();
});

describe('recorded time', () => {
  it("is never earlier than the stream's last event, whichever process's clock is behind", async () => {
    file = tempFile();
    let ahead = Date.parse('2026-03-01T12:00:00.000Z');
    const first = openSqliteEventStore({ filename: file.filename, clock: () => new Date(ahead) });
    // Another process on the same file whose clock is five minutes slow.
    const behind = openSqliteEventStore({ filename: file.filename, clock: () => new Date(ahead - 300_000) });
    stores.push(first, behind);
    await first.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const late = await behind.appendToStream('order-1', [{ type: 'Paid', data: {} }]);
    expect(late.events[0]!.time).toBe('2026-03-01T12:00:00.000Z');
    // A stream of its own starts from its own clock.
    expect((await behind.appendToStream('order-2', [{ type: 'Placed', data: {} }])).events[0]!.time).toBe('2026-03-01T11:55:00.000Z');
    ahead -= 60_000; // the clock is set back a minute
    await first.appendToStream('order-1', [{ type: 'Shipped', data: {} }]);
    ahead += 120_000;
    await first.appendToStream('order-1', [{ type: 'Delivered', data: {} }]);
    const times = (await collect(first.readStream('order-1'))).map((e) => e.time);
    expect(times).toEqual(['2026-03-01T12:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T12:01:00.000Z']);
  });

  it('holds within one group commit too', async () => {
    file = tempFile();
    const clock = ['2026-03-01T12:00:05.000Z', '2026-03-01T12:00:01.000Z'];
    let calls = 0;
    const store = openSqliteEventStore({ filename: file.filename, clock: () => new Date(clock[Math.min(calls++, clock.length - 1)]!) });
    stores.push(store);
    const [a, b] = await Promise.all([
      store.appendToStream('order-1', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-1', [{ type: 'Paid', data: {} }]),
    ]);
    expect(store.groupCommitStats.largestGroup).toBe(2);
    expect(a.events[0]!.time).toBe('2026-03-01T12:00:05.000Z');
    expect(b.events[0]!.time).toBe('2026-03-01T12:00:05.000Z');
  });
});
