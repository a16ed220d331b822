/** A `DeadLetterFilter` (checked by core's `checkDeadLetterFilter`) as the WHERE clause of `queue_dead_letters`. */
import type { DeadLetterFilter } from '@eventloom/core';
import { checkDeadLetterFilter } from '@eventloom/core/adapter';
import { sourceColumns } from './rows.js';

export interface FilterSql {
  /** `WHERE …`, or empty. */
  readonly where: string;
  /** Oldest first, with the limit. */
  readonly order: string;
  readonly params: Record<string, string | number>;
}

export function filterSql(unchecked: DeadLetterFilter | undefined): FilterSql {
  const filter = checkDeadLetterFilter(unchecked);
  const clauses: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.ids !== undefined) {
    clauses.push('id IN (SELECT value FROM json_each(@ids))');
    params.ids = JSON.stringify(filter.ids);
  }
  if (filter.consumer !== undefined) {
    clauses.push('consumer = @consumer');
    params.consumer = filter.consumer;
  }
  if (filter.source !== undefined) {
    const { destination, group } = sourceColumns(filter.source);
    clauses.push('destination = @destination AND group_name = @group');
    params.destination = destination;
    params.group = group;
  }
  if (filter.type !== undefined) {
    clauses.push('type = @type');
    params.type = filter.type;
  }
  if (filter.reason !== undefined) {
    clauses.push('reason = @reason');
    params.reason = filter.reason;
  }
  if (filter.before !== undefined) {
    clauses.push('last_failed_at <= @before');
    params.before = filter.before;
  }
  let order = 'ORDER BY seq';
  if (filter.limit !== undefined) {
    order += ' LIMIT @limit';
    params.limit = filter.limit;
  }
  return { where: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, order, params };
}
