/** Checkpoint rules, written once for every store's `CheckpointStore`. */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { Position } from '../envelope/event.js';
import { normalizePosition } from './read-options.js';
import { unstorableText } from '../envelope/text.js';

export const MAX_SUBSCRIPTION_ID_LENGTH = 255;

/** Throws `InvalidArgumentError` unless `subscriptionId` is a non-empty string every store can keep. */
export function assertSubscriptionId(subscriptionId: unknown): asserts subscriptionId is string {
  if (typeof subscriptionId !== 'string' || subscriptionId.length === 0 || subscriptionId.length > MAX_SUBSCRIPTION_ID_LENGTH) {
    throw new InvalidArgumentError(
      'subscriptionId',
      `must be a non-empty string of at most ${MAX_SUBSCRIPTION_ID_LENGTH} characters, got ${describeValue(subscriptionId)}`,
    );
  }
  const reason = unstorableText(subscriptionId);
  if (reason !== undefined) throw new InvalidArgumentError('subscriptionId', reason);
}

/** The position a checkpoint may hold: a bigint from 0n to 2^63 - 1, never missing. */
export function normalizeCheckpoint(position: Position): Position {
  if (position === undefined) throw new InvalidArgumentError('position', 'is missing; pass the bigint position of the last event handled');
  return normalizePosition(position, 'position')!;
}
