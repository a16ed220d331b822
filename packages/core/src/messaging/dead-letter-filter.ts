/** The one reading of a `DeadLetterFilter`: checked once in core, matched the same way by every transport that filters in process. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterReason } from './dead-letters.js';
import { assertConsumeSource, assertDestinationName, sourceKey } from './names.js';

const REASONS: readonly DeadLetterReason[] = ['max-attempts', 'rejected', 'undecodable', 'invalid-schema', 'unknown-type'];
export const MAX_DEAD_LETTER_IDS = 10_000;

/** Throws `InvalidArgumentError` naming the bad field; returns the filter with `before` as an ISO time. */
export function checkDeadLetterFilter(filter: DeadLetterFilter | undefined): DeadLetterFilter {
  if (filter === undefined) return {};
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new InvalidArgumentError('filter', `must be an object like { consumer: 'billing' }, got ${describeValue(filter)}`);
  }
  const known = new Set(['ids', 'consumer', 'source', 'type', 'reason', 'before', 'limit']);
  for (const key of Object.keys(filter)) {
    if (!known.has(key)) throw new InvalidArgumentError(`filter.${key}`, `is not a dead-letter filter field; use ${[...known].join(', ')}`);
  }
  const out: { -readonly [K in keyof DeadLetterFilter]: DeadLetterFilter[K] } = {};
  if (filter.ids !== undefined) {
    if (!Array.isArray(filter.ids) || filter.ids.length > MAX_DEAD_LETTER_IDS || filter.ids.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 255)) {
      throw new InvalidArgumentError('filter.ids', `must be an array of at most ${MAX_DEAD_LETTER_IDS} dead-letter ids, got ${describeValue(filter.ids)}`);
    }
    out.ids = filter.ids;
  }
  if (filter.consumer !== undefined) {
    assertDestinationName(filter.consumer, 'filter.consumer');
    out.consumer = filter.consumer;
  }
  if (filter.source !== undefined) {
    assertConsumeSource(filter.source, 'filter.source');
    out.source = filter.source;
  }
  if (filter.type !== undefined) {
    if (typeof filter.type !== 'string' || filter.type.length === 0) throw new InvalidArgumentError('filter.type', `must be a message type, got ${describeValue(filter.type)}`);
    out.type = filter.type;
  }
  if (filter.reason !== undefined) {
    if (!REASONS.includes(filter.reason)) throw new InvalidArgumentError('filter.reason', `must be one of ${REASONS.join(', ')}, got ${describeValue(filter.reason)}`);
    out.reason = filter.reason;
  }
  if (filter.before !== undefined) {
    const ms = typeof filter.before === 'string' ? Date.parse(filter.before) : NaN;
    if (!Number.isFinite(ms)) throw new InvalidArgumentError('filter.before', `must be an ISO 8601 time, got ${describeValue(filter.before)}`);
    out.before = new Date(ms).toISOString();
  }
  if (filter.limit !== undefined) {
    if (!Number.isSafeInteger(filter.limit) || filter.limit < 1) throw new InvalidArgumentError('filter.limit', `must be a positive integer, got ${describeValue(filter.limit)}`);
    out.limit = filter.limit;
  }
  return out;
}

/** Whether `deadLetter` matches a checked `filter` (all but `limit`, which the caller applies after ordering). */
export function matchesDeadLetter(deadLetter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.ids !== undefined && !filter.ids.includes(deadLetter.id)) return false;
  if (filter.consumer !== undefined && deadLetter.consumer !== filter.consumer) return false;
  if (filter.source !== undefined && sourceKey(deadLetter.source) !== sourceKey(filter.source)) return false;
  if (filter.type !== undefined && deadLetter.message?.type !== filter.type) return false;
  if (filter.reason !== undefined && deadLetter.reason !== filter.reason) return false;
  if (filter.before !== undefined && deadLetter.lastFailedAt > filter.before) return false;
  return true;
}
