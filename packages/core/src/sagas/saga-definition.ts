/**
 * A saga declared as steps: each an action, an optional compensation, a retry policy and a
 * timeout. The orchestrator runs the actions in order; when one fails for good it runs the
 * compensations of the completed steps in reverse order.
 */
import type { Command } from '../envelope/command.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { JsonValue } from '../envelope/event.js';
import type { OutgoingMessage, SentMessage } from '../messaging/message.js';

export interface SagaRetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  readonly maxAttempts?: number;
  /** Delay before the second attempt; doubles each time up to `maxDelayMs`. Default 10 ms. */
  readonly baseDelayMs?: number;
  /** Default 1,000 ms. */
  readonly maxDelayMs?: number;
}

/** What a step's action or compensation gets. */
export interface SagaStepContext<I extends JsonValue> {
  readonly sagaId: string;
  readonly saga: string;
  readonly step: string;
  /** 1 on the first attempt; counts attempts interrupted by crashes too. */
  readonly attempt: number;
  /**
   * The same on every attempt of this step's action (and another, equally stable, for its
   * compensation): pass it to the service so a retried step never acts twice.
   */
  readonly idempotencyKey: string;
  readonly input: I;
  /** Results of the steps completed so far, by step name. */
  readonly results: { readonly [step: string]: JsonValue };
  /** Aborted when the step times out: stop quickly (the attempt is retried with the same key). */
  readonly signal: AbortSignal;
  /** The id of the log event that opened this attempt; commands sent now name it as their cause. */
  readonly causationId: string;
  /**
   * `command` joined to the saga's conversation: correlation = the saga id, causation = this
   * attempt's log event, id = derived from the idempotency key (`index` for a step's n-th command).
   */
  command<C extends Command>(command: C, index?: number): C & { readonly id: string; readonly correlationId: string; readonly causationId: string };
  /** Sends a command through the orchestrator's transport, built as `command()` does (stable id, so consumers' inboxes dedupe it). */
  send(queue: string, message: OutgoingMessage, index?: number): Promise<readonly SentMessage[]>;
  /** Refuses the step for good (a business rule): no retry, compensation starts. */
  reject(reason: string): never;
}

export interface SagaStep<I extends JsonValue> {
  readonly name: string;
  /** Does the step's work; its result (JSON) is recorded and handed to later steps. */
  readonly action: (context: SagaStepContext<I>) => Promise<JsonValue | void> | JsonValue | void;
  /** Undoes the step; must be idempotent by `context.idempotencyKey` and accept that nothing may have happened. */
  readonly compensate?: (context: SagaStepContext<I>) => Promise<void> | void;
  readonly retry?: SagaRetryPolicy;
  /** The compensation's retries; default: `retry`'s, with at least 5 attempts. */
  readonly compensationRetry?: SagaRetryPolicy;
  /** Per attempt; a timed-out attempt counts as failed and may have acted, so it is compensated. */
  readonly timeoutMs?: number;
}

export interface SagaDefinition<I extends JsonValue = JsonValue> {
  /** Names the definition in every saga log it writes. */
  readonly name: string;
  readonly steps: readonly SagaStep<I>[];
}

export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export function resolveSagaRetry(policy: SagaRetryPolicy | undefined, where: string, minAttempts = 1): ResolvedRetry {
  const maxAttempts = Math.max(policy?.maxAttempts ?? 3, minAttempts);
  const baseDelayMs = policy?.baseDelayMs ?? 10;
  const maxDelayMs = policy?.maxDelayMs ?? 1_000;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new InvalidArgumentError(`${where}.maxAttempts`, `must be a positive integer, got ${maxAttempts}`);
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs)) throw new InvalidArgumentError(where, 'needs 0 <= baseDelayMs <= maxDelayMs');
  return { maxAttempts, baseDelayMs, maxDelayMs };
}

export function retryDelay(policy: ResolvedRetry, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** Checks a definition once, so a typo fails at start-up, not mid-saga. */
export function defineSaga<I extends JsonValue>(definition: SagaDefinition<I>): SagaDefinition<I> {
  if (typeof definition.name !== 'string' || definition.name.length === 0) throw new InvalidArgumentError('saga.name', 'must be a non-empty string');
  if (!Array.isArray(definition.steps) || definition.steps.length === 0) throw new InvalidArgumentError('saga.steps', 'needs at least one step');
  const seen = new Set<string>();
  definition.steps.forEach((step, i) => {
    if (typeof step.name !== 'string' || step.name.length === 0) throw new InvalidArgumentError(`saga.steps[${i}].name`, 'must be a non-empty string');
    if (seen.has(step.name)) throw new InvalidArgumentError(`saga.steps[${i}].name`, `repeats the step name ${step.name}`);
    seen.add(step.name);
    if (typeof step.action !== 'function') throw new InvalidArgumentError(`saga.steps[${i}].action`, 'must be a function');
    if (step.timeoutMs !== undefined && !(step.timeoutMs > 0)) throw new InvalidArgumentError(`saga.steps[${i}].timeoutMs`, 'must be > 0');
    resolveSagaRetry(step.retry, `saga.steps[${i}].retry`);
  });
  return definition;
}
