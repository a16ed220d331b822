/** Checkpoints of named subscriptions, in the `checkpoints` table of the store's file. */
import { type CheckpointStore, type Position } from '@eventloom/core';
import { assertSubscriptionId, normalizeCheckpoint } from '@eventloom/core/adapter';
import { retryWhileBusy } from './busy.js';
import { typedStoreError } from './sqlite-errors.js';
import type { Statements } from './statements.js';
import type { StoreWrites } from './store-writes.js';

export function sqliteCheckpointStore(statements: Statements, assertOpen: () => void, clock: () => Date, writes: StoreWrites): CheckpointStore {
  return {
    async load(subscriptionId: string): Promise<Position | null> {
      assertOpen();
      assertSubscriptionId(subscriptionId);
      const doing = `loading the checkpoint of ${subscriptionId}`;
      try {
        const position = await retryWhileBusy(doing, writes.busyTimeoutMs, () => statements.loadCheckpoint.get(subscriptionId), writes.connection);
        return position === undefined ? null : BigInt(position);
      } catch (error) {
        throw typedStoreError(error, doing, writes.filename);
      }
    },
    async store(subscriptionId: string, position: Position): Promise<void> {
      assertOpen();
      writes.refuseInsideHandler('checkpoints.store');
      assertSubscriptionId(subscriptionId);
      const checked = normalizeCheckpoint(position);
      const doing = `storing the checkpoint of ${subscriptionId}`;
      try {
        // A subscription meeting another process's lock waits for it here, without blocking the event loop.
        await retryWhileBusy(doing, writes.busyTimeoutMs, () => statements.storeCheckpoint.run(subscriptionId, checked, clock().toISOString()), writes.connection);
      } catch (error) {
        throw typedStoreError(error, doing, writes.filename);
      }
    },
  };
}
