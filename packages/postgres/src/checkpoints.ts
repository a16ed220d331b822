/** Checkpoints of named subscriptions, one row per subscription and tenant. */
import { InvalidArgumentError, type CheckpointStore, type Position } from '@eventloom/core';
import type { StoreDatabase } from './database.js';

function assertSubscriptionId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.includes('\u0000')) {
    throw new InvalidArgumentError('subscriptionId', 'must be a non-empty string without U+0000');
  }
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
      if (typeof position !== 'bigint') throw new InvalidArgumentError('position', 'must be a bigint');
      await db.rows(db.queries.storeCheckpoint, [subscriptionId, position.toString()], {
        operation: `storing checkpoint ${subscriptionId}`,
      });
    },
  };
}
