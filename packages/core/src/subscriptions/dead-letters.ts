/**
 * Dead letters of subscriptions: events a subscription gave up on under the `dead-letter` policy,
 * with the error and the attempts made. Each store keeps them (memory, a table in SQLite and
 * PostgreSQL); `list` and `discard` are for people, `record` for subscriptions.
 */
import { assertSubscriptionId } from '../event-store/checkpoint.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { Position } from '../envelope/event.js';
import { normalizePosition } from '../event-store/read-options.js';

export interface SubscriptionDeadLetter {
  readonly subscriptionId: string;
  readonly position: Position;
  readonly eventId: string;
  readonly eventType: string;
  readonly streamId: string;
  /** `name: message` of the last error. */
  readonly error: string;
  readonly attempts: number;
  /** ISO time of the last attempt. */
  readonly failedAt: string;
}

export interface SubscriptionDeadLetters {
  /** Dead letters of `subscriptionId` (or of every subscription), in log order. */
  list(subscriptionId?: string): Promise<readonly SubscriptionDeadLetter[]>;
  /** Removes one dead letter; false when there was none at that position. */
  discard(subscriptionId: string, position: Position): Promise<boolean>;
  /** Records (or replaces, on a retry that failed again) the dead letter at its subscription and position. */
  record(deadLetter: SubscriptionDeadLetter): Promise<void>;
}

/** The argument checks every store's dead letters share. */
export function checkDeadLetterKey(subscriptionId: unknown, position: unknown): Position {
  assertSubscriptionId(subscriptionId);
  if (position === undefined) throw new InvalidArgumentError('position', 'is required');
  return normalizePosition(position as Position, 'position') as Position;
}

export class MemorySubscriptionDeadLetters implements SubscriptionDeadLetters {
  readonly #letters = new Map<string, SubscriptionDeadLetter>();

  constructor(private readonly assertOpen: () => void = () => undefined) {}

  async list(subscriptionId?: string): Promise<readonly SubscriptionDeadLetter[]> {
    this.assertOpen();
    if (subscriptionId !== undefined) assertSubscriptionId(subscriptionId);
    return [...this.#letters.values()]
      .filter((letter) => subscriptionId === undefined || letter.subscriptionId === subscriptionId)
      .sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.subscriptionId.localeCompare(b.subscriptionId)));
  }

  async discard(subscriptionId: string, position: Position): Promise<boolean> {
    this.assertOpen();
    const checked = checkDeadLetterKey(subscriptionId, position);
    return this.#letters.delete(key(subscriptionId, checked));
  }

  async record(deadLetter: SubscriptionDeadLetter): Promise<void> {
    this.assertOpen();
    this.#letters.set(key(deadLetter.subscriptionId, deadLetter.position), Object.freeze({ ...deadLetter }));
  }
}

function key(subscriptionId: string, position: Position): string {
  return `${position}\u0000${subscriptionId}`;
}
