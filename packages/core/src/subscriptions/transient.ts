/**
 * Which store errors time can fix. Subscriptions and projection runners wait these out (with
 * backoff) and resume from where they were; every other error stops them, visibly.
 */
import { StoreBusyError, StoreUnavailableError } from '../envelope/errors.js';

/**
 * `STORE_UNAVAILABLE` (connection lost, server restarting) unless marked `retryable: false`, or
 * `STORE_BUSY` (locked by another process).
 */
export function isTransientStoreError(error: unknown): boolean {
  return (error instanceof StoreUnavailableError && error.retryable) || error instanceof StoreBusyError;
}
