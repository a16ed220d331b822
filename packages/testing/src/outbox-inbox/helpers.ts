/** Names, waiting and a recording consumer for the outbox/inbox suite. */
import { randomUUID } from 'node:crypto';
import type { Consumer, ConsumeSource, DeliveredMessage, Event, OutboxMessage, Transport } from '@eventloom/core';

export type Note = Event<'Noted', { n: number }>;

export function unique(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Retries `assertion` until it passes or `timeoutMs` runs out, then throws its last error. */
export async function eventually(assertion: () => Promise<void> | void, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

export interface Received {
  readonly deliveries: DeliveredMessage[];
  readonly consumer: Consumer;
  ids(): string[];
}

/** A consumer that records every delivery of `source` (every type) and acks it. */
export async function receive(transport: Transport, source: ConsumeSource, types: readonly string[] = ['Noted']): Promise<Received> {
  const deliveries: DeliveredMessage[] = [];
  const handlers = Object.fromEntries(types.map((type) => [type, (message: DeliveredMessage) => void deliveries.push(message)]));
  const consumer = transport.consume(source, handlers, { logger: false, unhandled: 'ack', visibilityTimeoutMs: 10_000 });
  await consumer.ready;
  return { deliveries, consumer, ids: () => deliveries.map((d) => d.id) };
}

export function notes(count: number, from = 0, extra: Record<string, unknown> = {}): ({ type: 'Noted'; data: { n: number } } & Record<string, unknown>)[] {
  return Array.from({ length: count }, (_, i) => ({ ...extra, type: 'Noted' as const, data: { n: from + i } }));
}

/** `count` Noted messages numbered from `from`, for the outbox, to `queue`. */
export function queued(queue: string, count: number, from = 0): OutboxMessage[] {
  return Array.from({ length: count }, (_, i) => ({ queue, type: 'Noted', data: { n: from + i } }));
}
