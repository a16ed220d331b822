/** Other connections' commits (other processes) wake this process's live readers at once, not at their next poll. */
import { defineProjection, ProjectionRunner } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteReadModels, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

describe("another connection's appends", () => {
  let file: TempFile;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    file.remove();
  });
  const open = (pollIntervalMs?: number): SqliteEventStore => {
    const store = openSqliteEventStore({ filename: file.filename, durability: 'normal', ...(pollIntervalMs && { pollIntervalMs }) });
    cleanups.push(() => store.close());
    return store;
  };

  it('wake a live subscription whose poll is a minute away', async () => {
    file = tempFile();
    const reader = open(60_000);
    const writer = open();
    const seen: string[] = [];
    const subscription = reader.subscribe({ handler: (event) => void seen.push(event.streamId) });
    cleanups.push(() => subscription.stop());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const result = await writer.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await subscription.waitFor(result.position, 5_000);
    expect(seen).toEqual(['order-1']);
  });

  it('wake a projection runner polling a minute apart, and the waiter of another connection', async () => {
    file = tempFile();
    const runnerStore = open();
    const readModels = openSqliteReadModels({ database: runnerStore.database });
    const projection = defineProjection<{ type: 'Placed'; data: { n: number } }>({
      name: 'placed',
      version: 1,
      handlers: {
        Placed: async (event, { collection }) => {
          await collection<{ n: number }>('orders').upsert(event.streamId, { n: event.data.n });
        },
      },
    });
    const runner = new ProjectionRunner({ eventStore: runnerStore, readModels, projections: [projection], pollIntervalMs: 60_000, leaseTtlMs: 180_000 });
    await runner.start();
    cleanups.push(() => runner.stop());
    await expect.poll(() => runner.status('placed').status, { timeout: 10_000 }).toBe('live');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A web process: appends, then waits on its own connection for the runner's checkpoint.
    const web = open();
    const webReadModels = openSqliteReadModels({ database: web.database });
    const { position } = await web.appendToStream('order-1', [{ type: 'Placed', data: { n: 7 } }]);
    await webReadModels.waitForPosition('placed', position, { timeoutMs: 5_000 });
    expect(await webReadModels.read('placed', (view) => view.collection<{ n: number }>('orders').get('order-1'))).toEqual({ n: 7 });
  });
});
