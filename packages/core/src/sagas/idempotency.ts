/**
 * Idempotency keys of saga steps and compensations: derived from the saga id, the step and the
 * kind (UUIDv5), so every retry — after a failure, a timeout or a crash — carries the same key and
 * the service it calls can tell it has already acted.
 */
import { commandEventId } from '../commands/command-event-ids.js';

export type SagaActionKind = 'action' | 'compensation';

/** The key of `step`'s action or compensation in saga `sagaId`; the same on every attempt. */
export function sagaIdempotencyKey(sagaId: string, step: string, kind: SagaActionKind): string {
  return commandEventId(`saga-${sagaId}`, `${kind}:${step}`, 0);
}

/** A stable id derived from `key` and an index: the n-th message a step sends, a service's n-th event for a key. */
export function derivedId(key: string, index = 0): string {
  return commandEventId('derived', key, index);
}
