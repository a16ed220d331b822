/**
 * No raw NATS error crosses the public API: everything a broker call throws becomes an
 * `EventloomError`. Connection trouble (closed, timed out, no responders while JetStream
 * restarts) is `TransportUnavailableError`, which the consumer engine waits out.
 */
import { EventloomError, TransportClosedError, TransportUnavailableError } from '@eventloom/core';
import { errors as coreErrors } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

export const KIND = 'nats';

/** True for failures that may pass when the server is back (retry with the same msg id is safe). */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof coreErrors.TimeoutError ||
    error instanceof coreErrors.NoRespondersError ||
    error instanceof coreErrors.ConnectionError ||
    error instanceof coreErrors.RequestError ||
    error instanceof coreErrors.DrainingConnectionError ||
    error instanceof TransportUnavailableError ||
    // JetStream answers 503 while it recovers after a restart.
    (error instanceof JetStreamApiError && error.status === 503) ||
    (error instanceof Error && /JetStream not enabled|jetstream.*unavailable/i.test(error.message))
  );
}

export function isClosed(error: unknown): boolean {
  return error instanceof coreErrors.ClosedConnectionError;
}

/** `what` names the operation, e.g. `publish to orders`. */
export function toEventloomError(error: unknown, what: string): EventloomError {
  if (error instanceof EventloomError) return error;
  if (isClosed(error)) return new TransportClosedError(KIND);
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new TransportUnavailableError(KIND, `${what} failed (${detail})`, { cause: error });
}

export async function mapped<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toEventloomError(error, what);
  }
}

export function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound || error.code === JetStreamApiCodes.NoMessageFound)
  );
}
