/** How a handler failure is written down: enough to find the event and see what went wrong. */
import type { RecordedEvent } from '../event.js';
import type { ProjectionFailure } from './read-model-store.js';

const MAX_MESSAGE_LENGTH = 2_000;
const MAX_STACK_LENGTH = 8_000;

export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : `thrown value: ${safeString(error)}`;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}

export function failureRecord(event: RecordedEvent, error: unknown, attempts: number): ProjectionFailure {
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
