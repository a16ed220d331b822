/** Which transport errors time can fix: the consumer reports them, waits with backoff and goes on. */
import { TransportUnavailableError } from '../../envelope/errors.js';
import { isTransientStoreError } from '../../subscriptions/transient.js';

export function isTransientTransportError(error: unknown): boolean {
  return error instanceof TransportUnavailableError || isTransientStoreError(error);
}

/** Backoff for transport errors: 100 ms doubling to 5 s. */
export function transportBackoff(failures: number): number {
  return Math.min(100 * 2 ** Math.max(0, failures - 1), 5_000);
}
