/** Commands: imperative messages with one handler, carrying the same correlation fields as events. */
import type { EventMetadata } from './event.js';

export interface Command<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  /** The command's id; the events it produces take it as their causation id. */
  readonly id?: string;
  /** The conversation; the events it produces inherit it. Defaults to the command's id. */
  readonly correlationId?: string;
  /** Metadata copied onto every event the command produces (tenant, user, traceparent…). */
  readonly metadata?: EventMetadata;
}
