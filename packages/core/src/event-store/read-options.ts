/** Validation of read options, shared by every store. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { Position } from '../envelope/event.js';
import type { LogFilter } from './event-store.js';
import { MAX_VERSION } from './expected-version.js';
import { unstorableText } from '../envelope/text.js';

/** Positions are signed 64-bit integers in every store; 0n is before the first event. */
export const MAX_POSITION = MAX_VERSION;

export const DEFAULT_BATCH_SIZE = 500;
export const MAX_BATCH_SIZE = 10_000;

/** Options of a read or subscription: an object, or absent. */
export function normalizeOptions<T extends object>(options: T | undefined, argument = 'options'): T | Record<string, never> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(argument, `must be an object or left out, got ${describeValue(options)}`);
  }
  return options;
}

export function normalizeBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError('batchSize', `must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${describeValue(batchSize)}`);
  }
  return batchSize;
}

/** `undefined` means no limit. */
export function normalizeMaxCount(maxCount: number | undefined): number | undefined {
  if (maxCount === undefined) return undefined;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new InvalidArgumentError('maxCount', `must be a non-negative integer, got ${describeValue(maxCount)}`);
  }
  return maxCount;
}

/** A stream version given as a bigint or a safe integer, from 0 to 2^63 - 1. */
export function normalizeVersion(value: bigint | number | undefined, argument: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(argument, `must be a non-negative integer, got ${describeValue(value)}`);
    }
    return BigInt(value);
  }
  if (typeof value !== 'bigint' || value < 0n || value > MAX_VERSION) {
    throw new InvalidArgumentError(argument, `must be a bigint from 0n to 2n ** 63n - 1n, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * A log position: a bigint from 0n to 2^63 - 1. Numbers are refused, not converted: positions
 * can be far above 2^53, where a number has already lost the exact value.
 */
export function normalizePosition(value: Position | undefined, argument: string): Position | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'bigint' || value < 0n || value > MAX_POSITION) {
    throw new InvalidArgumentError(argument, `must be a bigint position from 0n to 2n ** 63n - 1n, got ${describeValue(value)}`);
  }
  return value;
}

export function normalizeFilter(filter: LogFilter | undefined): LogFilter | undefined {
  if (filter === undefined) return undefined;
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new InvalidArgumentError('filter', `must be an object with eventTypes and/or streamPrefixes, got ${describeValue(filter)}`);
  }
  for (const key of ['eventTypes', 'streamPrefixes'] as const) {
    const list: unknown = filter[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item.length === 0)) {
      throw new InvalidArgumentError(`filter.${key}`, `must be an array of non-empty strings, got ${describeValue(list)}`);
    }
    // "None of these" and "no filter" are both plausible readings of an empty list: refuse it.
    if (list.length === 0) throw new InvalidArgumentError(`filter.${key}`, 'is empty; list at least one, or leave it out to read every event');
    for (const item of list as string[]) {
      const reason = unstorableText(item);
      if (reason !== undefined) throw new InvalidArgumentError(`filter.${key}`, `holds ${describeValue(item)}, which ${reason}`);
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
