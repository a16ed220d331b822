/** Subscriptions on SQLite: woken by this process's commits and by other connections' (file-changes.test.ts), stopped by close(). */
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

describe('subscriptions', () => {
  let file: TempFile;
  const stores: SqliteEventStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    file.remove();
  });
  const open = (pollIntervalMs?: number) => {
    const store = openSqliteEventStore({ filename: file.filename, ...(pollIntervalMs && { pollIntervalMs }) });
    stores.push(store);
    return store;
  };

  it("sees another process's appends by polling at the store's interval", async () => {
    file = tempFile();
    const reader = open(20);
    const writer = open();
    const seen: string[] = [];
    const subscription = reader.subscribe({ handler: (event) => void seen.push(event.streamId) });
    const result = await writer.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    // Found by the other connection's commit (data_version) or by polling, whichever is first.
    await subscription.waitFor(result.position, 5_000);
    expect(seen).toEqual(['order-1']);
    await subscription.stop();
  });

  it('is woken by its own store at once, without waiting for a poll', async () => {
    file = tempFile();
    const store = open(60_000);
    const seen: string[] = [];
    const subscription = store.subscribe({ handler: (event) => void seen.push(event.streamId) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const result = await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await subscription.waitFor(result.position, 5_000);
    expect(seen).toEqual(['order-1']);
    await subscription.stop();
  });

  it('is stopped by close(), with its checkpoint stored', async () => {
    file = tempFile();
    const store = openSqliteEventStore({ filename: file.filename });
    const result = await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const subscription = store.subscribe({ subscriptionId: 'totals', handler: () => undefined });
    await subscription.waitFor(result.position, 5_000);
    await store.close();
    expect(subscription.status).toBe('stopped');
    await expect(subscription.done).resolves.toBeUndefined();
    const reopened = open();
    expect(await reopened.checkpoints.load('totals')).toBe(result.position);
  });
});
