/** Messages for the SQLite queue's driver tests: full envelopes of type `Ping`, ready to enqueue. */
import { uuidv7, type MessageEnvelope } from '@eventloom/core';
import type { PreparedMessage } from '@eventloom/core/adapter';

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
  };
}

export function prepared(n: number, extra: Partial<MessageEnvelope> = {}, deliverAt: Date | null = null): PreparedMessage {
  return { envelope: envelope(n, extra), deliverAt };
}
