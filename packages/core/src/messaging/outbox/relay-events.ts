/**
 * What relays (the event-store relay and the state-based outbox's) report, and which of their
 * errors time can fix. Every failure also goes to the logger, so a stuck relay is never silent.
 */
import { TransportUnavailableError } from '../../envelope/errors.js';
import { isTransientStoreError } from '../../subscriptions/transient.js';

export type RelayStatus = 'starting' | 'standby' | 'running' | 'stopped' | 'failed';

export type RelayEvent =
  /** This process holds the relay's lease and relays. */
  | { readonly type: 'leading'; readonly relay: string }
  /** Another process holds the lease; this one waits to take over. */
  | { readonly type: 'standby'; readonly relay: string }
  /** The transport confirmed `count` messages (their checkpoint or deletion follows). */
  | { readonly type: 'published'; readonly relay: string; readonly count: number; readonly ids: readonly string[] }
  /** Publishing or reading failed; `willRetry` while the relay keeps trying (nothing is skipped). */
  | { readonly type: 'error'; readonly relay: string; readonly error: unknown; readonly willRetry: boolean }
  | { readonly type: 'stopped'; readonly relay: string };

export interface RelayLogger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** Options both relays share. */
export interface RelayCommonOptions {
  /** Messages per publish. Default 100. */
  readonly batchSize?: number;
  /** How long the relay's lease lasts without renewal; a standby relay takes over after it. Default 10,000 ms. */
  readonly leaseMs?: number;
  /** How often to look for new messages when nothing woke the relay. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /**
   * Runs after the transport confirmed a batch and before the relay records it as sent (the
   * checkpoint, the deleted rows). Throwing there makes the relay send the batch again — what a
   * crash at that moment does; tests use it to crash there.
   */
  readonly afterPublish?: (ids: readonly string[]) => void | Promise<void>;
  readonly onEvent?: (event: RelayEvent) => void;
  /** Default `console`; `false` for none (events still go to `onEvent`). */
  readonly logger?: RelayLogger | false;
}

/** Transport and store errors that pass: waited out with backoff, the batch sent again. */
export function isTransientRelayError(error: unknown): boolean {
  return error instanceof TransportUnavailableError || isTransientStoreError(error);
}

export function reportRelayEvent(event: RelayEvent, onEvent: ((event: RelayEvent) => void) | undefined, logger: RelayLogger | false | undefined): void {
  try {
    onEvent?.(event);
  } catch {
    // A listener's bug must not stop the relay it listens to.
  }
  const log = logger === undefined ? console : logger;
  if (log === false || event.type !== 'error') return;
  try {
    const text = `eventloom relay ${event.relay}: ${event.willRetry ? 'publishing failed, retrying' : 'stopped by an error'}: ${describeError(event.error)}`;
    event.willRetry ? log.warn(text) : log.error(text);
  } catch {
    // Logging must not break the relay either.
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export const DEFAULT_RELAY_BATCH = 100;
export const DEFAULT_RELAY_LEASE_MS = 10_000;
export const DEFAULT_RELAY_POLL_MS = 250;
export const MAX_RELAY_RETRY_DELAY_MS = 5_000;
