/**
 * The transport's dead letters, in `queue_dead_letters`. Redrive is one statement: the letters
 * leave this table and their messages enter the queue (attempts back at 0) in one commit, so an
 * interrupted redrive leaves each letter either here or back on its queue, never both or neither.
 */
import {
  InvalidArgumentError,
  type ConsumeSource,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterReason,
  type MessageEnvelope,
} from '@eventloom/core';
import { sourceKey } from './destinations.js';
import { count, type QueueDatabase } from './queue-database.js';
import type { QueueStatements } from './statements.js';

/** Columns of `DEAD_LETTER_COLUMNS` in statements.ts. */
export type DeadLetterRow = [
  id: string,
  source: ConsumeSource,
  consumer: string,
  reason: string,
  error: string,
  stack: string | null,
  attempts: number,
  firstFailedAt: string,
  lastFailedAt: string,
  envelope: string | null,
  raw: string | null,
];

export function deadLetterFromRow(row: DeadLetterRow): DeadLetter {
  const [id, source, consumer, reason, error, stack, attempts, firstFailedAt, lastFailedAt, envelope, raw] = row;
  return {
    id,
    message: envelope === null ? null : (JSON.parse(envelope) as MessageEnvelope),
    raw: raw === null ? null : (JSON.parse(raw) as DeadLetter['raw']),
    source,
    consumer,
    reason: reason as DeadLetterReason,
    error,
    stack,
    attempts,
    firstFailedAt,
    lastFailedAt,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REASONS: ReadonlySet<string> = new Set(['max-attempts', 'rejected', 'undecodable', 'invalid-schema', 'unknown-type']);

/** The filter as the statements' $1…$7; ids that are not UUIDs match nothing. */
function filterValues(filter: DeadLetterFilter = {}): unknown[] | null {
  if (filter === null || typeof filter !== 'object') throw new InvalidArgumentError('filter', 'must be an object');
  const { ids, consumer, source, type, reason, before, limit } = filter;
  if (ids !== undefined && !Array.isArray(ids)) throw new InvalidArgumentError('filter.ids', 'must be an array of dead-letter ids');
  if (consumer !== undefined && typeof consumer !== 'string') throw new InvalidArgumentError('filter.consumer', 'must be a string');
  if (type !== undefined && typeof type !== 'string') throw new InvalidArgumentError('filter.type', 'must be a string');
  if (reason !== undefined && !REASONS.has(reason)) throw new InvalidArgumentError('filter.reason', `must be one of ${[...REASONS].join(', ')}`);
  if (before !== undefined && (typeof before !== 'string' || Number.isNaN(Date.parse(before)))) {
    throw new InvalidArgumentError('filter.before', 'must be an ISO 8601 time');
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new InvalidArgumentError('filter.limit', 'must be a non-negative integer');
  const validIds = ids?.filter((id) => typeof id === 'string' && UUID.test(id));
  if (ids !== undefined && validIds!.length === 0) return null;
  return [validIds ?? null, consumer ?? null, source ? sourceKey(source) : null, type ?? null, reason ?? null, before ?? null, limit ?? null];
}

export class PostgresDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly db: QueueDatabase,
    private readonly statements: QueueStatements,
    /** Redriven messages are claimable: wake the receivers. */
    private readonly redriven: () => void,
  ) {}

  async list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]> {
    const values = filterValues(filter);
    if (!values) return [];
    const rows = await this.db.rows('listing dead letters', this.statements.listDeadLetters, values);
    return rows.map((row) => deadLetterFromRow(row as DeadLetterRow));
  }

  async get(id: string): Promise<DeadLetter | null> {
    if (typeof id !== 'string') throw new InvalidArgumentError('id', 'must be a dead letter id');
    if (!UUID.test(id)) return null;
    const [row] = await this.db.rows(`reading dead letter ${id}`, this.statements.getDeadLetter, [id]);
    return row ? deadLetterFromRow(row as DeadLetterRow) : null;
  }

  async redrive(filter?: DeadLetterFilter): Promise<number> {
    const values = filterValues(filter);
    if (!values) return 0;
    const moved = await this.db.withClient('redriving dead letters', (client) => count(client, this.statements.redrive, values));
    if (moved > 0) this.redriven();
    return moved;
  }

  async purge(filter?: DeadLetterFilter): Promise<number> {
    const values = filterValues(filter);
    if (!values) return 0;
    return this.db.withClient('purging dead letters', (client) => count(client, this.statements.purge, values));
  }
}
