/** Bounded retries with exponential backoff and jitter. */
import { InvalidArgumentError } from '../envelope/errors.js';

export interface RetryPolicy {
  /** Total attempts, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the second attempt; doubles each time. Default 5 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of one delay. Default 500 ms. */
  readonly maxDelayMs?: number;
}

export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export function resolveRetryPolicy(policy: RetryPolicy | undefined): ResolvedRetryPolicy {
  const maxAttempts = policy?.maxAttempts ?? 5;
  const baseDelayMs = policy?.baseDelayMs ?? 5;
  const maxDelayMs = policy?.maxDelayMs ?? 500;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidArgumentError('retry.maxAttempts', `must be a positive integer, got ${maxAttempts}`);
  }
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs)) {
    throw new InvalidArgumentError('retry', 'needs 0 <= baseDelayMs <= maxDelayMs');
  }
  return { maxAttempts, baseDelayMs, maxDelayMs };
}

/** Delay before attempt `attempt + 1` (attempt counts from 1): full jitter, so racing writers spread out. */
export function backoffDelay(policy: ResolvedRetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}
