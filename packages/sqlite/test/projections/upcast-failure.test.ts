/**
 * An upcaster that throws inside the store's own reads (not a wrapper): the projection runner puts
 * the event through its failure policy — here the dead-letter policy — instead of hanging in `starting`.
 */
import { ProjectionRunner, SchemaRegistry } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteReadModels } from '../../src/index.js';
import { tempDir } from './temp-dir.js';

const { appendOrders, created, paid, ledgerProjection, uniqueOrderStream } = projectionFixtures;

describe('upcast failures in a projection (SQLite store)', () => {
  it('dead-letters the event the upcaster cannot read and moves on', async () => {
    const bad = uniqueOrderStream();
    const schemas = new SchemaRegistry().upcaster({
      type: 'OrderPaid',
      fromVersion: 1,
      upcast: (data, event) => {
        if (event.streamId === bad) throw new RangeError('unreadable amount');
        return data;
      },
    });
    const dir = tempDir();
    const eventStore = openSqliteEventStore({ filename: dir.file('app.db'), schemas });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    await appendOrders(eventStore, 2);
    // Recorded as v1 (as before the upcaster existed), so reads upcast it.
    const failing = await eventStore.appendToStream(bad, [created(bad.slice(6)), { ...paid(bad.slice(6)), schemaVersion: 1 }]);
    const later = await appendOrders(eventStore, 2);
    const runner = new ProjectionRunner({
      eventStore,
      readModels,
      pollIntervalMs: 20,
      projections: [ledgerProjection()],
      failurePolicy: { onFailure: 'dead-letter', maxAttempts: 2, retryDelayMs: 5 },
    });
    await runner.start();
    try {
      await runner.waitForPosition('ledger', later.position, 10_000);
      const letters = await readModels.deadLetters('ledger@1');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ eventId: failing.events[1]!.id, position: failing.events[1]!.position, attempts: 2 });
      expect(letters[0]!.error).toMatch(/UpcastError.*unreadable amount/);
      expect(runner.status('ledger').checkpoint).toBeGreaterThanOrEqual(later.position);
    } finally {
      await runner.stop();
      await readModels.close();
      await eventStore.close();
      dir.remove();
    }
  });
});
