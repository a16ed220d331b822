/** Expected-version rules, written once for every store. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError, WrongExpectedVersionError, type ExpectedVersionDescription } from '../envelope/errors.js';
import type { ExpectedVersion } from './event-store.js';

/** Versions and positions are signed 64-bit integers in every store (PostgreSQL and SQLite `bigint`). */
export const MAX_VERSION = 2n ** 63n - 1n;

/** `ExpectedVersion` with numbers turned into bigints; throws `InvalidArgumentError` on nonsense. */
export function normalizeExpectedVersion(expected: ExpectedVersion | undefined): ExpectedVersionDescription {
  if (expected === undefined || expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') {
    return expected ?? 'any';
  }
  if (typeof expected === 'number') {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new InvalidArgumentError('expectedVersion', `must be a non-negative integer, got ${describeValue(expected)}`);
    }
    return BigInt(expected);
  }
  if (typeof expected === 'bigint') {
    if (expected < 0n || expected > MAX_VERSION) {
      throw new InvalidArgumentError('expectedVersion', `must be from 0 to 2^63 - 1, got ${describeValue(expected)}`);
    }
    return expected;
  }
  throw new InvalidArgumentError(
    'expectedVersion',
    `must be 'any', 'no_stream', 'stream_exists' or a version number, got ${describeValue(expected)}`,
  );
}

/**
 * The state of a stream that expected-version checks look at. `visible` is false for a stream
 * that has no events or whose events were all soft-deleted.
 */
export interface StreamState {
  readonly version: bigint;
  readonly visible: boolean;
}

/** Throws `WrongExpectedVersionError` unless `expected` holds for `state`. */
export function checkExpectedVersion(streamId: string, expected: ExpectedVersionDescription, state: StreamState): void {
  if (expectationHolds(expected, state)) return;
  throw new WrongExpectedVersionError(streamId, expected, state.version === 0n ? null : state.version);
}

export function expectationHolds(expected: ExpectedVersionDescription, state: StreamState): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return !state.visible;
    case 'stream_exists':
      return state.visible;
    default:
      return state.version === expected;
  }
}

/**
 * Whether an append whose first event is already recorded at `recordedAtVersion` is an exact
 * retry under `expected`: the expectation held at the time of the first append.
 */
export function retryMatchesExpectation(expected: ExpectedVersionDescription, recordedAtVersion: bigint): boolean {
  switch (expected) {
    case 'any':
    case 'stream_exists':
      return true;
    case 'no_stream':
      return recordedAtVersion === 1n;
    default:
      return recordedAtVersion === expected + 1n;
  }
}
