/** Messages and dead letters as the transport stores them, and back. */
import type { ConsumeSource, DeadLetter, DeadLetterReason, MessageEnvelope } from '@eventloom/core';
import type { PreparedMessage, ReceivedMessage } from '@eventloom/core/adapter';
import type { ClaimedRow } from './queue-statements.js';

/** What a receiver needs to change the row of one delivery, and nothing else's. */
export interface DeliveryToken {
  readonly seq: number;
  readonly owner: string;
  readonly attempts: number;
}

/** The envelope as JSON, reusing the data and metadata JSON the engine's checks already wrote. */
export function envelopeJson(message: PreparedMessage): string {
  const { envelope, dataJson, metadataJson } = message;
  if (dataJson === undefined || metadataJson === undefined) return JSON.stringify(envelope);
  const { data: _data, metadata: _metadata, ...rest } = envelope;
  return `${JSON.stringify(rest).slice(0, -1)},"data":${dataJson},"metadata":${metadataJson}}`;
}

/**
 * A claimed row as the engine takes it: the envelope, or — when the text is not an envelope
 * (a foreign producer's bytes, a redriven undecodable dead letter) — the raw body, which the
 * engine dead-letters as undecodable instead of this transport failing.
 */
export function receivedMessage(row: ClaimedRow, owner: string): ReceivedMessage {
  const [seq, attempts, firstFailedAt, partitionKey, text] = row;
  const base = { token: { seq, owner, attempts } satisfies DeliveryToken, deliveryCount: attempts, firstFailedAt, partitionKey };
  const envelope = parseEnvelope(text);
  if (envelope !== null) return { ...base, kind: 'envelope', envelope };
  return { ...base, kind: 'raw', headers: {}, body: new TextEncoder().encode(text) };
}

function parseEnvelope(text: string): MessageEnvelope | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const looksRight =
    typeof v.id === 'string' &&
    typeof v.type === 'string' &&
    typeof v.time === 'string' &&
    typeof v.source === 'string' &&
    typeof v.correlationId === 'string' &&
    typeof v.schemaVersion === 'number' &&
    'data' in v &&
    v.metadata !== null &&
    typeof v.metadata === 'object';
  return looksRight ? (value as MessageEnvelope) : null;
}

export function tokenOf(message: ReceivedMessage): DeliveryToken {
  return message.token as DeliveryToken;
}

/** Where a source's rows are: the queue with group '', or the topic with its group. */
export function sourceColumns(source: ConsumeSource): { destination: string; group: string } {
  return 'queue' in source ? { destination: source.queue, group: '' } : { destination: source.topic, group: source.group };
}

export type DeadLetterRow = [
  seq: number,
  id: string,
  destination: string,
  group: string,
  consumer: string,
  message: string | null,
  raw: string | null,
  reason: string,
  error: string,
  stack: string | null,
  attempts: number,
  firstFailedAt: string,
  lastFailedAt: string,
];

export function decodeDeadLetter(row: DeadLetterRow, parse: <T>(json: string, what: string) => T): DeadLetter {
  const [, id, destination, group, consumer, message, raw, reason, error, stack, attempts, firstFailedAt, lastFailedAt] = row;
  const source: ConsumeSource = group === '' ? { queue: destination } : { topic: destination, group };
  return {
    id,
    message: message === null ? null : parse<MessageEnvelope>(message, `dead letter ${id}`),
    raw: raw === null ? null : parse<DeadLetter['raw']>(raw, `dead letter ${id}`),
    source,
    consumer,
    reason: reason as DeadLetterReason,
    error,
    stack,
    attempts,
    firstFailedAt,
    lastFailedAt,
  };
}
