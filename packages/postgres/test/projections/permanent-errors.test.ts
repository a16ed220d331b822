/**
 * Errors no wait can fix stop a projection visibly instead of being retried for ever: a missing
 * privilege (42501) on the read-model tables is STORE_UNAVAILABLE with `retryable: false`, and the
 * runner reports it with `willRetry: false` and status `failed`.
 */
import { defineProjection, ProjectionRunner, StoreUnavailableError, type ProjectionRunnerEvent } from '@eventloom/core';
import { projectionFixtures } from '@eventloom/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { adminClient } from '../support.js';
import { openTestStores, postgresUrl } from './support.js';

type OrderEvent = projectionFixtures.OrderEvent;

const orders = defineProjection<OrderEvent>({
  name: 'denied-orders',
  version: 1,
  handlers: {
    OrderCreated: async (event, { collection }) => {
      await collection<{ total: number }>('orders').upsert(event.data.orderId, { total: event.data.total });
    },
  },
});

describe.skipIf(!postgresUrl)('permanent server errors on the read-model store (postgres)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a revoked grant (42501) is not retried: the store says retryable false, the runner stops the projection visibly', async () => {
    const stores = await openTestStores();
    cleanups.push(() => stores.cleanup());
    const admin = await adminClient();
    cleanups.push(() => admin.end());
    await admin.query(`REVOKE INSERT, UPDATE ON "${stores.schema}".rm_leases FROM "${stores.schema}_app"`);

    const direct = await stores.readModels.tryAcquireLease('some-lease', 'me', 10_000).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(StoreUnavailableError);
    expect((direct as StoreUnavailableError).retryable).toBe(false);
    expect((direct as Error).message).toMatch(/permission denied.*42501/s);

    const events: ProjectionRunnerEvent[] = [];
    const runner = new ProjectionRunner({ eventStore: stores.eventStore, readModels: stores.readModels, projections: [orders], onEvent: (e) => events.push(e) });
    cleanups.push(() => runner.stop());
    await runner.start();
    await expect.poll(() => events.find((e) => e.type === 'error'), { timeout: 15_000 }).toBeDefined();
    const error = events.find((e) => e.type === 'error') as Extract<ProjectionRunnerEvent, { type: 'error' }>;
    expect(error.willRetry).toBe(false);
    await expect.poll(() => runner.status(orders.name).status, { timeout: 15_000 }).toBe('failed');
  });
});
