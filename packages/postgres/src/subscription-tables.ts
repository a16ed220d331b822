/**
 * Leases and dead letters of subscriptions on PostgreSQL (migration 5), per tenant like every
 * table: a named subscription is held by one process at a time, its checkpoint written only
 * under the lease's epoch; dead letters keep the event, error and attempts. Lease times are the
 * server's clock.
 */
import { type Position, type SubscriptionDeadLetter, type SubscriptionDeadLetters } from '@eventloom/core';
import { assertSubscriptionId, checkDeadLetterKey, type LeaseInfo, type LeaseStore } from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertStorableBigint } from './limits.js';
import type { StoreNames } from './names.js';
import { subscriptionStatements } from './sql/subscriptions.js';

export function postgresSubscriptionTables(
  db: StoreDatabase,
  names: StoreNames,
  assertOpen: () => void,
): { leases: LeaseStore; deadLetters: SubscriptionDeadLetters } {
  const s = subscriptionStatements(names);
  const rows = (statement: (typeof s)[keyof typeof s], values: readonly unknown[], operation: string, writes = false): Promise<unknown[][]> => {
    assertOpen();
    return db.rows(statement, values, { operation, ...(writes && { writes: true }) });
  };
  const leases: LeaseStore = {
    acquire: async (name, holder, ttlMs) => {
      const [row] = await rows(s.acquire, [name, holder, Math.ceil(ttlMs)], `taking the lease ${name}`, true);
      return row === undefined ? null : BigInt(row[0] as bigint);
    },
    release: async (name, holder) => {
      await rows(s.release, [name, holder], `releasing the lease ${name}`, true);
    },
    list: async (prefix) =>
      (await rows(s.list, [prefix], `listing leases ${prefix}`)).map(
        ([name, holder, epoch]): LeaseInfo => ({ name: name as string, holder: holder as string, epoch: BigInt(epoch as bigint) }),
      ),
    holder: async (name) => {
      const [row] = await rows(s.holder, [name], `reading the lease ${name}`);
      return (row?.[0] as string | undefined) ?? null;
    },
    storeCheckpoint: async (lease, subscriptionId, position) => {
      assertStorableBigint(position, 'position');
      const result = await db.withClient({ operation: `storing checkpoint ${subscriptionId}`, writes: true }, (client) =>
        client.query({
          name: s.fencedCheckpoint.name,
          text: s.fencedCheckpoint.text,
          values: [subscriptionId, position.toString(), lease.name, lease.holder, lease.epoch.toString()],
        }),
      );
      return (result.rowCount ?? 0) > 0;
    },
  };
  const deadLetters: SubscriptionDeadLetters = {
    list: async (subscriptionId?: string) => {
      if (subscriptionId !== undefined) assertSubscriptionId(subscriptionId);
      return (await rows(s.listDeadLetters, [subscriptionId ?? null], 'listing dead letters')).map(
        ([id, position, eventId, eventType, streamId, error, attempts, failedAt]): SubscriptionDeadLetter => ({
          subscriptionId: id as string,
          position: BigInt(position as bigint),
          eventId: eventId as string,
          eventType: eventType as string,
          streamId: streamId as string,
          error: error as string,
          attempts: Number(attempts),
          failedAt: failedAt instanceof Date ? failedAt.toISOString() : String(failedAt),
        }),
      );
    },
    discard: async (subscriptionId: string, position: Position) => {
      const checked = checkDeadLetterKey(subscriptionId, position);
      assertStorableBigint(checked, 'position');
      const result = await db.withClient({ operation: `discarding a dead letter of ${subscriptionId}`, writes: true }, (client) =>
        client.query({ name: s.discardDeadLetter.name, text: s.discardDeadLetter.text, values: [subscriptionId, checked.toString()] }),
      );
      return (result.rowCount ?? 0) > 0;
    },
    record: async (letter) => {
      await rows(
        s.recordDeadLetter,
        [
          letter.subscriptionId,
          letter.position.toString(),
          letter.eventId,
          letter.eventType,
          letter.streamId,
          letter.error,
          letter.attempts,
          letter.failedAt,
        ],
        `recording a dead letter of ${letter.subscriptionId}`,
        true,
      );
    },
  };
  return { leases, deadLetters };
}
