/**
 * How a failure on an event is written down — a handler that threw, or an event that could not be
 * read (its upcaster threw): enough to find the event and see what went wrong.
 */
import { UpcastError } from '../envelope/errors.js';
import type { Position, RecordedEvent } from '../envelope/event.js';
import type { ProjectionFailure } from './read-model-store.js';

const MAX_MESSAGE_LENGTH = 2_000;
const MAX_STACK_LENGTH = 8_000;

export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : `thrown value: ${safeString(error)}`;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}

/** What a failure record needs of an event: where it is and what it is. */
export type EventRef = Pick<RecordedEvent, 'position' | 'id' | 'type' | 'streamId'>;

/**
 * An event the store could not hand over (its upcaster threw). It goes through the failure
 * policy like an event whose handler throws: retried, then stopped at or dead-lettered.
 */
export class UnreadableEvent implements EventRef {
  constructor(
    readonly position: Position,
    readonly id: string,
    readonly type: string,
    readonly streamId: string,
    readonly error: UpcastError,
  ) {}

  /** The unreadable event `error` is about, or null when the error does not say where it is. */
  static from(error: unknown): UnreadableEvent | null {
    if (!(error instanceof UpcastError) || error.position === null) return null;
    return new UnreadableEvent(error.position, error.eventId, error.eventType, error.streamId ?? '', error);
  }
}

export function failureRecord(event: EventRef, error: unknown, attempts: number): ProjectionFailure {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack.slice(0, MAX_STACK_LENGTH) : null;
  return {
    position: event.position,
    eventId: event.id,
    eventType: event.type,
    streamId: event.streamId,
    error: describeError(error),
    stack,
    attempts,
    failedAt: new Date().toISOString(),
  };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
