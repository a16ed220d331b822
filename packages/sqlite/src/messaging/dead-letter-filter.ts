/** A `DeadLetterFilter` checked and turned into the WHERE clause of `queue_dead_letters`. */
import { InvalidArgumentError, type DeadLetterFilter, type DeadLetterReason } from '@eventloom/core';
import { describeValue } from '@eventloom/core/adapter';
import { sourceColumns } from './rows.js';

const REASONS: readonly DeadLetterReason[] = ['max-attempts', 'rejected', 'undecodable', 'invalid-schema', 'unknown-type'];

export interface FilterSql {
  /** `WHERE …` (or empty) and `ORDER BY seq` with the limit. */
  readonly where: string;
  readonly order: string;
  readonly params: Record<string, string | number>;
}

export function filterSql(filter: DeadLetterFilter | undefined): FilterSql {
  if (filter === undefined) return { where: '', order: 'ORDER BY seq', params: {} };
  if (filter === null || typeof filter !== 'object') {
    throw new InvalidArgumentError('filter', `must be an object such as { consumer: 'billing' }, got ${describeValue(filter)}`);
  }
  const clauses: string[] = [];
  const params: Record<string, string | number> = {};
  const { ids, consumer, source, type, reason, before, limit } = filter;
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
      throw new InvalidArgumentError('filter.ids', `must be an array of dead letter ids, got ${describeValue(ids)}`);
    }
    clauses.push('id IN (SELECT value FROM json_each(@ids))');
    params.ids = JSON.stringify(ids);
  }
  if (consumer !== undefined) {
    clauses.push('consumer = @consumer');
    params.consumer = text('filter.consumer', consumer);
  }
  if (source !== undefined) {
    if (source === null || typeof source !== 'object' || (!('queue' in source) && !('topic' in source))) {
      throw new InvalidArgumentError('filter.source', `must be { queue } or { topic, group }, got ${describeValue(source)}`);
    }
    const { destination, group } = sourceColumns(source);
    clauses.push('destination = @destination AND group_name = @group');
    params.destination = text('filter.source', destination);
    params.group = 'queue' in source ? '' : text('filter.source.group', group);
  }
  if (type !== undefined) {
    clauses.push('type = @type');
    params.type = text('filter.type', type);
  }
  if (reason !== undefined) {
    if (!REASONS.includes(reason)) throw new InvalidArgumentError('filter.reason', `must be one of ${REASONS.join(', ')}, got ${describeValue(reason)}`);
    clauses.push('reason = @reason');
    params.reason = reason;
  }
  if (before !== undefined) {
    const time = typeof before === 'string' ? new Date(before) : undefined;
    if (time === undefined || Number.isNaN(time.getTime())) {
      throw new InvalidArgumentError('filter.before', `must be an ISO 8601 time, got ${describeValue(before)}`);
    }
    clauses.push('last_failed_at <= @before');
    params.before = time.toISOString();
  }
  let order = 'ORDER BY seq';
  if (limit !== undefined) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidArgumentError('filter.limit', `must be a non-negative integer, got ${describeValue(limit)}`);
    order += ' LIMIT @limit';
    params.limit = limit;
  }
  return { where: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, order, params };
}

function text(argument: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(argument, `must be a non-empty string, got ${describeValue(value)}`);
  return value;
}
