/** Expected-version rules, written once for every store. */
import { InvalidArgumentError, WrongExpectedVersionError, type ExpectedVersionDescription } from './errors.js';
import type { ExpectedVersion } from './event-store.js';

/** `ExpectedVersion` with numbers turned into bigints; throws `InvalidArgumentError` on nonsense. */
export function normalizeExpectedVersion(expected: ExpectedVersion | undefined): ExpectedVersionDescription {
  if (expected === undefined || expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') {
    return expected ?? 'any';
  }
  if (typeof expected === 'number') {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new InvalidArgumentError('expectedVersion', `must be a non-negative integer, got ${expected}`);
    }
    return BigInt(expected);
  }
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new InvalidArgumentError('expectedVersion', `must not be negative, got ${expected}`);
    return expected;
  }
  throw new InvalidArgumentError(
    'expectedVersion',
    `must be 'any', 'no_stream', 'stream_exists' or a version number, got ${JSON.stringify(expected)}`,
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
