/** Checkpoints of named subscriptions, one row per subscription and tenant. */
import { InvalidArgumentError, type CheckpointStore, type Position } from '@eventloom/core';
import { assertSubscriptionId as assertCoreSubscriptionId } from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertStorableBigint } from './limits.js';

/** Core's rule (non-empty, no U+0000, no half surrogate pair), as on every store. */
function assertSubscriptionId(id: string): void {
  assertCoreSubscriptionId(id);
}

export function postgresCheckpoints(db: StoreDatabase, assertOpen: () => void): CheckpointStore {
  return {
    async load(subscriptionId: string): Promise<Position | null> {
      assertOpen();
      assertSubscriptionId(subscriptionId);
      const rows = await db.rows(db.queries.loadCheckpoint, [subscriptionId], { operation: `loading checkpoint ${subscriptionId}` });
      return (rows[0]?.[0] as bigint | undefined) ?? null;
    },
    async store(subscriptionId: string, position: Position): Promise<void> {
      assertOpen();
      assertSubscriptionId(subscriptionId);
      assertStorableBigint(position, 'position');
      await db.rows(db.queries.storeCheckpoint, [subscriptionId, position.toString()], {
        operation: `storing checkpoint ${subscriptionId}`,
      });
    },
  };
}
