/**
 * Consumers' failure policy: subscriptions' and projections' (`resolveFailurePolicy`,
 * `retryDelay`: attempts, doubling delay, cap), with jitter and only one end — the dead-letter
 * queue, since a stopped queue helps nobody.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import { resolveFailurePolicy, retryDelay, type ResolvedFailurePolicy } from '../../subscriptions/policy.js';
import type { MessageFailurePolicy } from '../transport.js';

export interface ResolvedMessageFailurePolicy extends ResolvedFailurePolicy {
  readonly onFailure: 'dead-letter';
  readonly jitter: number;
}

export const DEFAULT_JITTER = 0.2;

export function resolveMessageFailurePolicy(policy: MessageFailurePolicy | undefined): ResolvedMessageFailurePolicy {
  if (policy !== undefined && (policy === null || typeof policy !== 'object')) {
    throw new InvalidArgumentError('failurePolicy', 'must be an object like { maxAttempts: 5, retryDelayMs: 100 }');
  }
  const onFailure = (policy as { onFailure?: unknown } | undefined)?.onFailure;
  if (onFailure !== undefined && onFailure !== 'dead-letter') {
    throw new InvalidArgumentError('failurePolicy', `onFailure must be 'dead-letter' for a consumer (a stopped queue helps nobody), got ${describeValue(onFailure)}`);
  }
  const { jitter = DEFAULT_JITTER, ...rest } = policy ?? {};
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new InvalidArgumentError('failurePolicy', `jitter must be a number from 0 to 1, got ${describeValue(jitter)}`);
  }
  const resolved = resolveFailurePolicy({ ...rest, onFailure: 'dead-letter' });
  return { ...resolved, onFailure: 'dead-letter', jitter };
}

/**
 * The delay before attempt `attempts + 1`: the doubling delay, of which a `jitter` fraction is
 * random, so the retries of many messages that failed together spread out. Never above the cap.
 */
export function messageRetryDelay(policy: ResolvedMessageFailurePolicy, attempts: number, random: () => number = Math.random): number {
  const delay = retryDelay(policy, attempts);
  return Math.round(delay * (1 - policy.jitter * random()));
}
