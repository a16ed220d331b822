/** Checkpoints of named subscriptions, in the `checkpoints` table of the store's file. */
import { InvalidArgumentError, normalizeVersion, type CheckpointStore, type Position } from '@eventloom/core';
import { storeError } from './sqlite-errors.js';
import type { Statements } from './statements.js';

export function sqliteCheckpointStore(statements: Statements, assertOpen: () => void, clock: () => Date): CheckpointStore {
  return {
    async load(subscriptionId: string): Promise<Position | null> {
      assertOpen();
      assertSubscriptionId(subscriptionId);
      const position = statements.loadCheckpoint.get(subscriptionId);
      return position === undefined ? null : BigInt(position);
    },
    async store(subscriptionId: string, position: Position): Promise<void> {
      assertOpen();
      assertSubscriptionId(subscriptionId);
      const checked = normalizeVersion(position, 'position')!;
      try {
        statements.storeCheckpoint.run(subscriptionId, checked, clock().toISOString());
      } catch (error) {
        throw storeError(error, `storing the checkpoint of ${subscriptionId}`, 'nothing');
      }
    },
  };
}

function assertSubscriptionId(subscriptionId: unknown): asserts subscriptionId is string {
  if (typeof subscriptionId !== 'string' || subscriptionId.length === 0) {
    throw new InvalidArgumentError('subscriptionId', 'must be a non-empty string');
  }
}
