/**
 * Leases and dead letters of subscriptions and consumer groups, in two small tables of the
 * store's file, so several processes on one file share them: a named subscription or a group's
 * partition is held by one process at a time, and its checkpoint is written only under the lease
 * it holds. Lease times are this machine's wall clock in ms (the processes share one file, so one machine).
 */
import { type Position, type SubscriptionDeadLetter, type SubscriptionDeadLetters } from '@eventloom/core';
import { checkDeadLetterKey, assertSubscriptionId, type LeaseInfo, type LeaseStore } from '@eventloom/core/adapter';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './open-database.js';
import { retryWhileBusy } from './busy.js';
import { typedStoreError } from './sqlite-errors.js';
import type { StoreWrites } from './store-writes.js';

const TABLES = `
CREATE TABLE IF NOT EXISTS subscription_leases (
  name       TEXT    PRIMARY KEY,
  holder     TEXT    NOT NULL,
  epoch      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL -- ms since 1970, this machine's clock
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscription_dead_letters (
  subscription_id TEXT    NOT NULL,
  position        INTEGER NOT NULL,
  event_id        TEXT    NOT NULL,
  event_type      TEXT    NOT NULL,
  stream_id       TEXT    NOT NULL,
  error           TEXT    NOT NULL,
  attempts        INTEGER NOT NULL,
  failed_at       TEXT    NOT NULL,
  PRIMARY KEY (subscription_id, position)
) WITHOUT ROWID;`;

const ACQUIRE = `
INSERT INTO subscription_leases (name, holder, epoch, expires_at) VALUES (@name, @holder, 1, @now + @ttl)
ON CONFLICT (name) DO UPDATE SET
  epoch = CASE WHEN subscription_leases.holder = excluded.holder THEN subscription_leases.epoch ELSE subscription_leases.epoch + 1 END,
  holder = excluded.holder,
  expires_at = excluded.expires_at
WHERE subscription_leases.holder = excluded.holder OR subscription_leases.expires_at <= @now
RETURNING epoch`;

const RELEASE = `UPDATE subscription_leases SET expires_at = 0 WHERE name = @name AND holder = @holder`;
const LIST = `SELECT name, holder, epoch FROM subscription_leases WHERE substr(name, 1, length(@prefix)) = @prefix AND expires_at > @now ORDER BY name`;
const HOLDER = `SELECT holder FROM subscription_leases WHERE name = @name AND expires_at > @now`;
// Written only under the epoch the writer holds, and never lower than it was.
const FENCED_CHECKPOINT = `
INSERT INTO checkpoints (subscription_id, position, updated_at)
SELECT @id, @position, @time WHERE EXISTS (
  SELECT 1 FROM subscription_leases WHERE name = @name AND holder = @holder AND epoch = @epoch)
ON CONFLICT (subscription_id) DO UPDATE SET position = max(checkpoints.position, excluded.position), updated_at = excluded.updated_at`;

const RECORD_DEAD_LETTER = `
INSERT INTO subscription_dead_letters (subscription_id, position, event_id, event_type, stream_id, error, attempts, failed_at)
VALUES (@subscriptionId, @position, @eventId, @eventType, @streamId, @error, @attempts, @failedAt)
ON CONFLICT (subscription_id, position) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, failed_at = excluded.failed_at`;
const LIST_DEAD_LETTERS = `
SELECT subscription_id, position, event_id, event_type, stream_id, error, attempts, failed_at FROM subscription_dead_letters
WHERE @id IS NULL OR subscription_id = @id ORDER BY position, subscription_id`;
const DISCARD_DEAD_LETTER = `DELETE FROM subscription_dead_letters WHERE subscription_id = @id AND position = @position`;

type Row = unknown[];
type Prepared = Record<'acquire' | 'release' | 'list' | 'holder' | 'fenced' | 'record' | 'letters' | 'discard', Statement>;

/** The statements, prepared once the tables exist (made on first use, by whichever process comes first). */
class Tables {
  #statements: Prepared | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly writes: StoreWrites,
    private readonly assertOpen: () => void,
  ) {}

  async run<T>(doing: string, work: (s: Prepared) => T): Promise<T> {
    this.assertOpen();
    try {
      // Each statement first waits for a transaction this connection holds across an await.
      return await retryWhileBusy(doing, this.writes.busyTimeoutMs, () => work(this.statements), this.writes.connection);
    } catch (error) {
      throw typedStoreError(error, doing, this.writes.filename);
    }
  }

  get statements(): Prepared {
    if (!this.#statements) {
      this.db.exec(TABLES);
      const prepare = (sql: string): Statement => this.db.prepare(sql);
      this.#statements = {
        acquire: prepare(ACQUIRE).safeIntegers(true),
        release: prepare(RELEASE),
        list: prepare(LIST).raw(true).safeIntegers(true),
        holder: prepare(HOLDER).pluck(),
        fenced: prepare(FENCED_CHECKPOINT),
        record: prepare(RECORD_DEAD_LETTER),
        letters: prepare(LIST_DEAD_LETTERS).raw(true).safeIntegers(true),
        discard: prepare(DISCARD_DEAD_LETTER),
      };
    }
    return this.#statements;
  }
}

export function sqliteSubscriptionTables(
  db: SqliteDatabase,
  writes: StoreWrites,
  assertOpen: () => void,
  clock: () => Date,
): { leases: LeaseStore; deadLetters: SubscriptionDeadLetters } {
  const tables = new Tables(db, writes, assertOpen);
  const leases: LeaseStore = {
    acquire: (name, holder, ttlMs) =>
      tables.run(`taking the lease ${name}`, (s) => {
        const row = s.acquire.get({ name, holder, ttl: Math.ceil(ttlMs), now: Date.now() }) as { epoch: bigint } | undefined;
        return row === undefined ? null : BigInt(row.epoch);
      }),
    release: async (name, holder) => {
      await tables.run(`releasing the lease ${name}`, (s) => s.release.run({ name, holder }));
    },
    list: (prefix) =>
      tables.run(`listing leases ${prefix}`, (s) =>
        (s.list.all({ prefix, now: Date.now() }) as Row[]).map(([name, holder, epoch]): LeaseInfo => ({
          name: name as string,
          holder: holder as string,
          epoch: BigInt(epoch as bigint),
        })),
      ),
    holder: (name) => tables.run(`reading the lease ${name}`, (s) => (s.holder.get({ name, now: Date.now() }) as string | undefined) ?? null),
    storeCheckpoint: (lease, subscriptionId, position) =>
      tables.run(`storing the checkpoint of ${subscriptionId}`, (s) => {
        writes.refuseInsideHandler('checkpoints.store');
        const result = s.fenced.run({
          id: subscriptionId,
          position,
          time: clock().toISOString(),
          name: lease.name,
          holder: lease.holder,
          epoch: lease.epoch,
        });
        return result.changes > 0;
      }),
  };
  const deadLetters: SubscriptionDeadLetters = {
    list: (subscriptionId?: string) => {
      if (subscriptionId !== undefined) assertSubscriptionId(subscriptionId);
      return tables.run('listing dead letters', (s) =>
        (s.letters.all({ id: subscriptionId ?? null }) as Row[]).map(
          ([id, position, eventId, eventType, streamId, error, attempts, failedAt]): SubscriptionDeadLetter => ({
            subscriptionId: id as string,
            position: BigInt(position as bigint),
            eventId: eventId as string,
            eventType: eventType as string,
            streamId: streamId as string,
            error: error as string,
            attempts: Number(attempts),
            failedAt: failedAt as string,
          }),
        ),
      );
    },
    discard: async (subscriptionId: string, position: Position) => {
      const checked = checkDeadLetterKey(subscriptionId, position);
      return tables.run(`discarding a dead letter of ${subscriptionId}`, (s) => s.discard.run({ id: subscriptionId, position: checked }).changes > 0);
    },
    record: async (letter) => {
      await tables.run(`recording a dead letter of ${letter.subscriptionId}`, (s) => s.record.run({ ...letter }));
    },
  };
  return { leases, deadLetters };
}
