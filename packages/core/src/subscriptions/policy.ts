/** The failure policy of subscriptions: projections' `FailurePolicy`, with the same defaults and checks. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { FailurePolicy } from '../projections/projection.js';

export type ResolvedFailurePolicy = Required<FailurePolicy>;

const DEFAULTS: ResolvedFailurePolicy = { onFailure: 'stop', maxAttempts: 5, retryDelayMs: 100, maxRetryDelayMs: 5_000 };

/**
 * `policy` checked and completed. `legacy` are the older top-level `maxAttempts`/`retryDelayMs`
 * options, used when the policy does not say.
 */
export function resolveFailurePolicy(
  policy: FailurePolicy | undefined,
  legacy: { readonly maxAttempts?: number | undefined; readonly retryDelayMs?: number | undefined } = {},
): ResolvedFailurePolicy {
  if (policy !== undefined && (policy === null || typeof policy !== 'object')) {
    throw new InvalidArgumentError('failurePolicy', 'must be an object like { onFailure: "stop", maxAttempts: 5 }');
  }
  const merged = {
    ...DEFAULTS,
    ...definedOnly({ maxAttempts: legacy.maxAttempts, retryDelayMs: legacy.retryDelayMs }),
    ...definedOnly(policy ?? {}),
  };
  if (merged.onFailure !== 'stop' && merged.onFailure !== 'dead-letter') {
    throw new InvalidArgumentError('failurePolicy', `onFailure must be 'stop' or 'dead-letter', got ${describeValue(merged.onFailure)}`);
  }
  if (!Number.isSafeInteger(merged.maxAttempts) || merged.maxAttempts < 1) {
    throw new InvalidArgumentError('failurePolicy', `maxAttempts must be a positive integer, got ${describeValue(merged.maxAttempts)}`);
  }
  for (const key of ['retryDelayMs', 'maxRetryDelayMs'] as const) {
    const value = merged[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError('failurePolicy', `${key} must be a non-negative number, got ${describeValue(value)}`);
    }
  }
  return merged;
}

/** The delay before attempt `attempts + 1`: doubling from `retryDelayMs`, capped. */
export function retryDelay(policy: ResolvedFailurePolicy, attempts: number): number {
  return Math.min(policy.retryDelayMs * 2 ** (attempts - 1), policy.maxRetryDelayMs);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
