/** Stream metadata rules (maxCount, maxAge, truncateBefore), written once for every store. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { StreamMetadata } from './event-store.js';
import { MAX_VERSION } from './expected-version.js';
import { assertJson } from '../envelope/json.js';

/** Validates and normalizes metadata given by a user. */
export function normalizeStreamMetadata(metadata: StreamMetadata): StreamMetadata {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new InvalidArgumentError('metadata', `must be an object, got ${describeValue(metadata)}`);
  }
  const { maxCount, maxAgeSeconds, truncateBefore, custom } = metadata;
  if (maxCount !== undefined && (!Number.isSafeInteger(maxCount) || maxCount < 1)) {
    throw new InvalidArgumentError('metadata.maxCount', `must be a positive integer, got ${describeValue(maxCount)}`);
  }
  if (maxAgeSeconds !== undefined && (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds <= 0)) {
    throw new InvalidArgumentError('metadata.maxAgeSeconds', `must be a positive number, got ${describeValue(maxAgeSeconds)}`);
  }
  if (truncateBefore !== undefined && (typeof truncateBefore !== 'bigint' || truncateBefore < 0n || truncateBefore > MAX_VERSION)) {
    throw new InvalidArgumentError('metadata.truncateBefore', `must be a bigint version from 0n to 2n ** 63n - 1n, got ${describeValue(truncateBefore)}`);
  }
  if (custom !== undefined) {
    if (custom === null || typeof custom !== 'object' || Array.isArray(custom)) {
      throw new InvalidArgumentError('metadata.custom', 'must be an object');
    }
    try {
      assertJson(custom, 'metadata.custom');
    } catch (error) {
      throw new InvalidArgumentError('metadata.custom', (error as Error).message);
    }
  }
  return {
    ...(maxCount !== undefined && { maxCount }),
    ...(maxAgeSeconds !== undefined && { maxAgeSeconds }),
    ...(truncateBefore !== undefined && { truncateBefore }),
    ...(custom !== undefined && { custom }),
  };
}

/** The lowest version `readStream` shows, given the stream's metadata and its version. */
export function firstVisibleVersion(metadata: StreamMetadata, version: bigint): bigint {
  let first = 1n;
  if (metadata.truncateBefore !== undefined && metadata.truncateBefore > first) first = metadata.truncateBefore;
  if (metadata.maxCount !== undefined) {
    const byCount = version - BigInt(metadata.maxCount) + 1n;
    if (byCount > first) first = byCount;
  }
  return first;
}

/**
 * The metadata a soft delete leaves: every event up to `version` hidden, so the stream reads as
 * empty and a later append starts it again after them. (PostgreSQL's delete function writes the
 * same in SQL, atomically with its version check.)
 */
export function softDeletedMetadata(metadata: StreamMetadata, version: bigint): StreamMetadata {
  return { ...metadata, truncateBefore: version + 1n };
}

/** ISO time before which events are hidden by `maxAgeSeconds`, or undefined. */
export function oldestVisibleTime(metadata: StreamMetadata, now: Date): string | undefined {
  if (metadata.maxAgeSeconds === undefined) return undefined;
  return new Date(now.getTime() - metadata.maxAgeSeconds * 1000).toISOString();
}

/** Metadata as stored: JSON with the bigint written as a string. */
export function serializeStreamMetadata(metadata: StreamMetadata): string {
  return JSON.stringify({
    ...metadata,
    ...(metadata.truncateBefore !== undefined && { truncateBefore: metadata.truncateBefore.toString() }),
  });
}

export function deserializeStreamMetadata(json: string | null | undefined): StreamMetadata {
  if (!json) return {};
  const raw = JSON.parse(json) as Record<string, unknown>;
  return {
    ...(raw as StreamMetadata),
    ...(typeof raw.truncateBefore === 'string' && { truncateBefore: BigInt(raw.truncateBefore) }),
  };
}
