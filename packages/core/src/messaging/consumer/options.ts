/** A consumer's options, checked and completed before it starts, so a typo fails at `consume`, not later. */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import { SchemaRegistry } from '../../schemas/schema-registry.js';
import type { ConsumerEvent, ConsumerLogger, ConsumerOptions } from '../transport.js';
import { resolveMessageFailurePolicy, type ResolvedMessageFailurePolicy } from './failure-policy.js';

export const DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000;
export const MAX_CONCURRENCY = 10_000;
export const MAX_PREFETCH = 100_000;

export interface ResolvedConsumerOptions {
  readonly concurrency: number;
  readonly prefetch: number;
  readonly failurePolicy: ResolvedMessageFailurePolicy;
  readonly visibilityTimeoutMs: number;
  readonly unhandled: 'dead-letter' | 'ack';
  readonly schemas: SchemaRegistry | undefined;
  readonly onEvent: ((event: ConsumerEvent) => void) | undefined;
  readonly logger: ConsumerLogger | false | undefined;
}

export function resolveConsumerOptions(options: ConsumerOptions | undefined): ResolvedConsumerOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidArgumentError('options', `must be an object, got ${describeValue(options)}`);
  }
  const o = options ?? {};
  const concurrency = integer(o.concurrency, 'options.concurrency', 1, 1, MAX_CONCURRENCY);
  const prefetch = integer(o.prefetch, 'options.prefetch', Math.max(concurrency * 2, 16), 1, MAX_PREFETCH);
  if (prefetch < concurrency) {
    throw new InvalidArgumentError('options.prefetch', `is ${prefetch}, below concurrency ${concurrency}: handlers would wait for messages that are never fetched; make prefetch at least the concurrency`);
  }
  const visibilityTimeoutMs = integer(o.visibilityTimeoutMs, 'options.visibilityTimeoutMs', DEFAULT_VISIBILITY_TIMEOUT_MS, 100, 12 * 3600_000);
  const unhandled = o.unhandled ?? 'dead-letter';
  if (unhandled !== 'dead-letter' && unhandled !== 'ack') {
    throw new InvalidArgumentError('options.unhandled', `must be 'dead-letter' or 'ack', got ${describeValue(unhandled)}`);
  }
  if (o.schemas !== undefined && !(o.schemas instanceof SchemaRegistry)) {
    throw new InvalidArgumentError('options.schemas', `must be a SchemaRegistry, got ${describeValue(o.schemas)}`);
  }
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') {
    throw new InvalidArgumentError('options.onEvent', `must be a function, got ${describeValue(o.onEvent)}`);
  }
  const logger = o.logger;
  if (logger !== undefined && logger !== false && (logger === null || typeof logger !== 'object' || typeof logger.warn !== 'function' || typeof logger.error !== 'function')) {
    throw new InvalidArgumentError('options.logger', `must be an object with warn and error functions, or false, got ${describeValue(logger)}`);
  }
  return {
    concurrency,
    prefetch,
    failurePolicy: resolveMessageFailurePolicy(o.failurePolicy),
    visibilityTimeoutMs,
    unhandled,
    schemas: o.schemas,
    onEvent: o.onEvent,
    logger,
  };
}

function integer(value: unknown, argument: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}
