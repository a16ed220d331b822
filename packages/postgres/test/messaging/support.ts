/** Test support for the queue: drivers in a fresh schema each, prepared messages, a stopwatch. */
import { uuidv7, type MessageEnvelope } from '@eventloom/core';
import type { PreparedMessage, ReceivedMessage, Receiver } from '@eventloom/core/adapter';
import { dropPostgresEventStore } from '../../src/index.js';
import { openPostgresTransportDriver, type PostgresTransportDriver, type PostgresTransportDriverOptions } from '../../src/messaging/index.js';
import { connectionString, uniqueSchema } from '../support.js';

export { adminClient, connectionString, postgresUrl } from '../support.js';

export interface TestDrivers {
  readonly schema: string;
  open(options?: Partial<PostgresTransportDriverOptions>): Promise<PostgresTransportDriver>;
  cleanup(): Promise<void>;
}

/** Drivers on one new schema; `cleanup` closes them all and drops the schema and its role. */
export function testDrivers(): TestDrivers {
  const schema = uniqueSchema('elq');
  const opened: PostgresTransportDriver[] = [];
  return {
    schema,
    async open(options = {}) {
      const driver = await openPostgresTransportDriver({ connectionString, schema, poolSize: 4, ...options });
      opened.push(driver);
      return driver;
    },
    async cleanup() {
      await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
      await dropPostgresEventStore({ connectionString, schema });
    },
  };
}

export function envelope(n: number, extra: Partial<MessageEnvelope> = {}): MessageEnvelope {
  const id = uuidv7();
  return {
    id,
    type: 'Ping',
    data: { n },
    schemaVersion: 1,
    time: new Date().toISOString(),
    source: 'test',
    correlationId: id,
    causationId: null,
    subject: null,
    partitionKey: null,
    metadata: {},
    ...extra,
  } as MessageEnvelope;
}

export function prepared(count: number, extra: Partial<MessageEnvelope> = {}, deliverAt: Date | null = null, from = 0): PreparedMessage[] {
  return Array.from({ length: count }, (_, i) => ({ envelope: envelope(from + i, extra), deliverAt }));
}

export const ns = (messages: readonly ReceivedMessage[]): number[] =>
  messages.map((m) => ((m as { envelope: MessageEnvelope }).envelope.data as { n: number }).n);

/** What `receive` returns within `ms` (empty when nothing came). */
export async function receiveWithin(receiver: Receiver, max: number, ms: number): Promise<readonly ReceivedMessage[]> {
  return receiver.receive(max, AbortSignal.timeout(ms));
}

export const receiverOptions = (consumer: string, visibilityTimeoutMs = 30_000) => ({ consumer, visibilityTimeoutMs, prefetch: 16 });
