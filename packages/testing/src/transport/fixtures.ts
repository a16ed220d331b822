/** Messages, names, consumer options and waiting helpers the transport conformance suite uses. */
import { randomUUID } from 'node:crypto';
import { EventloomError, type ConsumerEvent, type ConsumerOptions, type DeliveredMessage, type Event, type MessageFailurePolicy, type OutgoingMessage } from '@eventloom/core';
import { expect } from 'vitest';

export type Ping = Event<'Ping', { n: number; key?: string }>;
export type Pong = Event<'Pong', { n: number }>;

/** A queue, topic or group name no other test uses: `q-<uuid>` (valid on every transport). */
export function uniqueName(prefix = 'q'): string {
  return `${prefix}-${randomUUID()}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Retries `assertion` until it passes or `timeoutMs` runs out, then throws its last error. */
export async function eventually(assertion: () => Promise<void> | void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}

/** `count` Ping messages numbered from `from`, each with `extra` (a key, an id…). */
export function pings(count: number, from = 0, extra: Omit<Partial<OutgoingMessage<Ping>>, 'type' | 'data'> = {}): OutgoingMessage<Ping>[] {
  return Array.from({ length: count }, (_, i) => ({ ...extra, type: 'Ping' as const, data: { n: from + i } }));
}

export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Retries that are quick enough for tests and deterministic (no jitter). */
export function quickPolicy(overrides: MessageFailurePolicy = {}): MessageFailurePolicy {
  return { maxAttempts: 3, retryDelayMs: 20, maxRetryDelayMs: 200, jitter: 0, ...overrides };
}

/**
 * Consumer options of the suite: short retries, a visibility timeout long enough that a busy
 * machine does not redeliver a message still being handled, no log lines (events are recorded).
 * Every consumer of one source in a test gets the same options: brokers map some of them onto
 * the topology (ack wait, max deliveries), where a second, different set would conflict.
 */
export function consumerOptions(overrides: ConsumerOptions = {}): ConsumerOptions {
  return {
    visibilityTimeoutMs: 5_000,
    failurePolicy: quickPolicy(),
    logger: false,
    ...overrides,
  };
}

/** What a consumer saw: every delivery in arrival order, and its events. */
export interface Recorder<M extends Event = Event> {
  readonly deliveries: DeliveredMessage<M>[];
  readonly events: ConsumerEvent[];
  readonly onEvent: (event: ConsumerEvent) => void;
  /** Ids of the deliveries, in order. */
  ids(): string[];
}

export function recorder<M extends Event = Event>(): Recorder<M> {
  const deliveries: DeliveredMessage<M>[] = [];
  const events: ConsumerEvent[] = [];
  return { deliveries, events, onEvent: (event) => events.push(event), ids: () => deliveries.map((d) => d.id) };
}

/** How many times each value occurs. */
export function counts(values: readonly string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const value of values) result.set(value, (result.get(value) ?? 0) + 1);
  return result;
}

/** Asserts that `run` fails with an `EventloomError` (a typed refusal, never a raw driver error); returns it. */
export async function expectEventloomError(run: () => unknown): Promise<EventloomError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a typed EventloomError, got none').toBeInstanceOf(EventloomError);
  return caught as EventloomError;
}

/** ISO 8601, UTC, milliseconds. */
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
