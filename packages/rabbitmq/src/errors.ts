/** Where amqplib's errors become Eventloom's typed errors: the one place that knows AMQP's reply codes. */
import { EventloomError, InvalidArgumentError, TopologyConflictError, TransportUnavailableError } from '@eventloom/core';

export const KIND = 'rabbitmq';

/** AMQP 0-9-1 reply codes seen on channel and connection close. */
export const REPLY = { ACCESS_REFUSED: 403, NOT_FOUND: 404, RESOURCE_LOCKED: 405, PRECONDITION_FAILED: 406 } as const;

export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The broker's text without amqplib's framing, e.g. `PRECONDITION_FAILED - inequivalent arg 'x-queue-type'…`. */
export function brokerText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /\d{3} \(([A-Z-_]+)\) with message "(.*)"$/s.exec(message);
  return match ? `${match[1]}: ${match[2]}` : message;
}

/**
 * `error` from declaring `resource` as a typed error: a conflicting declaration (406) is a
 * `TopologyConflictError`, a refused name (403) an `InvalidArgumentError`, anything else from
 * the connection a `TransportUnavailableError`.
 */
export function declarationError(error: unknown, resource: string): EventloomError {
  if (error instanceof EventloomError) return error;
  const code = replyCode(error);
  if (code === REPLY.PRECONDITION_FAILED) return new TopologyConflictError(resource, brokerText(error), { cause: error });
  if (code === REPLY.ACCESS_REFUSED) return new InvalidArgumentError(resource, `the broker refused it (${brokerText(error)})`);
  return unavailable(`declaring ${resource} failed (${brokerText(error)})`, error);
}

export function unavailable(detail: string, cause?: unknown): TransportUnavailableError {
  return new TransportUnavailableError(KIND, detail, cause === undefined ? undefined : { cause });
}

/** Any error from amqplib as a typed one, for operations that are not declarations. */
export function operationError(error: unknown, operation: string): EventloomError {
  if (error instanceof EventloomError) return error;
  return unavailable(`${operation} failed (${brokerText(error)})`, error);
}
