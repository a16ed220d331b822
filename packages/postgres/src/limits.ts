/**
 * The ranges of PostgreSQL's integer columns. A value outside them would reach the server and
 * come back as a raw 22003 (numeric value out of range); checked here first, so the caller gets a
 * typed error naming the field and nothing is sent.
 */
import { InvalidArgumentError, InvalidEventError } from '@eventloom/core';

/** Largest `bigint` column value (positions, versions). */
export const MAX_BIGINT = 2n ** 63n - 1n;
/** Largest `integer` column value (schema versions, partition numbers). */
export const MAX_INTEGER = 2 ** 31 - 1;

/** Throws InvalidArgumentError unless `value` is a bigint from 0 to 2^63 - 1. */
export function assertStorableBigint(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_BIGINT) {
    throw new InvalidArgumentError(field, `must be a bigint from 0 to 2^63 - 1 (PostgreSQL's bigint), got ${describe(value)}`);
  }
}

/** Throws InvalidArgumentError unless `value` is an integer from `min` to 2^31 - 1. */
export function assertStorableInteger(value: unknown, field: string, min = 0): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > MAX_INTEGER) {
    throw new InvalidArgumentError(field, `must be an integer from ${min} to 2^31 - 1 (PostgreSQL's integer), got ${describe(value)}`);
  }
}

/** An event's schema version, as `InvalidEventError`. */
export function assertStorableSchemaVersion(value: number, field: string): void {
  if (value > MAX_INTEGER) {
    throw new InvalidEventError(field, `must be at most 2^31 - 1 (PostgreSQL's integer), got ${value}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  return typeof value;
}
