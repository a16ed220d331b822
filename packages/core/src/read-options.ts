/** Validation of read options, shared by every store. */
import { InvalidArgumentError } from './errors.js';
import type { LogFilter } from './event-store.js';

export const DEFAULT_BATCH_SIZE = 500;
export const MAX_BATCH_SIZE = 10_000;

export function normalizeBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError('batchSize', `must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${batchSize}`);
  }
  return batchSize;
}

/** `undefined` means no limit. */
export function normalizeMaxCount(maxCount: number | undefined): number | undefined {
  if (maxCount === undefined) return undefined;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new InvalidArgumentError('maxCount', `must be a non-negative integer, got ${maxCount}`);
  }
  return maxCount;
}

export function normalizeVersion(value: bigint | number | undefined, argument: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(argument, `must be a non-negative integer, got ${value}`);
    }
    return BigInt(value);
  }
  if (typeof value !== 'bigint' || value < 0n) throw new InvalidArgumentError(argument, 'must be a non-negative bigint');
  return value;
}

export function normalizeFilter(filter: LogFilter | undefined): LogFilter | undefined {
  if (filter === undefined) return undefined;
  for (const key of ['eventTypes', 'streamPrefixes'] as const) {
    const list = filter[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item.length === 0)) {
      throw new InvalidArgumentError(`filter.${key}`, 'must be an array of non-empty strings');
    }
  }
  return filter;
}

/** In-process check of a filter, for stores that filter in memory. */
export function matchesFilter(filter: LogFilter | undefined, streamId: string, type: string): boolean {
  if (!filter) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(type)) return false;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((prefix) => streamId.startsWith(prefix))) return false;
  return true;
}
