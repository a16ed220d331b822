/**
 * What a subscription (or a consumer group's partition) reports: the same kinds of events as the
 * projection runner's (`retrying`, `failed`, `dead-lettered`, `error`, `leading`, `standby`), so
 * one listener can watch both. Each also goes to the logger, so a failing subscription is never silent.
 */
import type { Position } from '../envelope/event.js';
import type { ProjectionFailure } from '../projections/read-model-store.js';
import type { SubscriptionDeadLetter } from './dead-letters.js';
import { reportEvent, type LogLine } from './report-event.js';

/** An event the handler kept failing on: where it is, the last error and how many attempts were made. */
export type SubscriptionFailure = ProjectionFailure;

export type SubscriptionEvent =
  | { readonly type: 'leading'; readonly subscription: string }
  | { readonly type: 'standby'; readonly subscription: string; readonly holder: string | null }
  | { readonly type: 'live'; readonly subscription: string; readonly position: Position | null }
  | {
      readonly type: 'retrying';
      readonly subscription: string;
      readonly position: Position;
      readonly eventId: string;
      /** Attempts so far, all failed. */
      readonly attempts: number;
      readonly delayMs: number;
      readonly error: unknown;
    }
  | { readonly type: 'failed'; readonly subscription: string; readonly failure: SubscriptionFailure }
  | { readonly type: 'dead-lettered'; readonly subscription: string; readonly deadLetter: SubscriptionDeadLetter }
  /**
   * Something other than one event failed. A transient store error (`STORE_UNAVAILABLE`,
   * `STORE_BUSY`) is retried with backoff (`willRetry`); any other stops the subscription
   * (status `failed`, `done` rejects).
   */
  | { readonly type: 'error'; readonly subscription: string; readonly error: unknown; readonly willRetry: boolean };

/** The part of `console` a subscription writes to. */
export interface SubscriptionLogger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** Sends `event` to the listener and the logger; neither may break the subscription. */
export function reportSubscriptionEvent(
  event: SubscriptionEvent,
  onEvent: ((event: SubscriptionEvent) => void) | undefined,
  logger: SubscriptionLogger | false | undefined,
): void {
  reportEvent(event, onEvent, logger, logLine);
}

function logLine(event: SubscriptionEvent): LogLine {
  const name = `[eventloom] subscription ${event.subscription}`;
  switch (event.type) {
    case 'retrying':
      return {
        level: 'warn',
        text: `${name}: attempt ${event.attempts} on event ${event.eventId} at position ${event.position} failed (${message(event.error)}); retrying in ${event.delayMs} ms`,
      };
    case 'failed':
      return {
        level: 'error',
        text: `${name} stopped at position ${event.failure.position} (event ${event.failure.eventId}, ${event.failure.eventType}) after ${event.failure.attempts} attempts: ${event.failure.error}`,
      };
    case 'dead-lettered':
      return {
        level: 'warn',
        text: `${name} dead-lettered event ${event.deadLetter.eventId} at position ${event.deadLetter.position} after ${event.deadLetter.attempts} attempts: ${event.deadLetter.error}`,
      };
    case 'error':
      // A lost lease is a handover (another process holds it now), not a breakdown.
      if ((event.error as { code?: unknown } | null)?.code === 'LEASE_HELD') return { level: 'warn', text: `${name}: ${message(event.error)}` };
      return event.willRetry
        ? { level: 'warn', text: `${name}: store error, retrying: ${message(event.error)}` }
        : { level: 'error', text: `${name} stopped on an error: ${message(event.error)}` };
    default:
      return null;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
