/** Commands: imperative messages with one handler, carrying the same correlation fields as events. */
import type { EventMetadata } from './event.js';
import { uuidv7 } from './uuid.js';

export interface Command<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  /**
   * The command's id; the events it produces take it as their causation id. Give a stable one
   * (e.g. from the client's request) to make retries safe: the command handler recognises a
   * command id it has already recorded and returns the earlier result without writing.
   */
  readonly id?: string;
  /** The conversation; the events it produces inherit it. Defaults to the command's id. */
  readonly correlationId?: string;
  /** The message (usually an event) that caused this command; recorded on its events as `metadata.commandCausationId`. */
  readonly causationId?: string;
  /** Metadata copied onto every event the command produces (tenant, user, traceparent…). */
  readonly metadata?: EventMetadata;
}

/** The parts of a message a command caused by it inherits. Recorded events have all of them. */
export interface CausingMessage {
  readonly id: string;
  /** The conversation; a message without one starts its own (its id). */
  readonly correlationId?: string | null;
}

/**
 * A command caused by `message` (an event a reactor or saga handles): it joins the message's
 * conversation, names the message as its cause, and gets its own id unless `command` gives one.
 *
 * @example
 * const pay = commandCausedBy(orderPlaced, { type: 'ChargeCard', data: { amount: orderPlaced.data.total } });
 */
export function commandCausedBy<C extends Command>(message: CausingMessage, command: C): C & { readonly id: string; readonly correlationId: string; readonly causationId: string } {
  return {
    ...command,
    id: command.id ?? uuidv7(),
    correlationId: message.correlationId ?? message.id,
    causationId: message.id,
  };
}
