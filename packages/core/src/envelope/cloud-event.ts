/**
 * The envelope as CloudEvents 1.0, so any CloudEvents client can read what Eventloom publishes,
 * and back. Extension values are strings or integers as the spec allows; bigints travel as
 * decimal strings.
 */
import { InvalidArgumentError } from './errors.js';
import type { EventMetadata, RecordedEvent } from './event.js';

export interface CloudEventV1 {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: unknown;
  readonly schemaversion: number;
  readonly streamversion: string;
  /** The Sequence extension: the global position. */
  readonly sequence: string;
  readonly correlationid: string;
  readonly causationid?: string;
  /** The Distributed Tracing extension, from `metadata.traceparent`. */
  readonly traceparent?: string;
  readonly tenantid?: string;
  /** All metadata, as JSON. */
  readonly metadata?: string;
}

export function toCloudEvent(event: RecordedEvent): CloudEventV1 {
  const hasMetadata = Object.keys(event.metadata).length > 0;
  return {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.streamId,
    time: event.time,
    datacontenttype: 'application/json',
    data: event.data,
    schemaversion: event.schemaVersion,
    streamversion: event.streamVersion.toString(),
    sequence: event.position.toString(),
    correlationid: event.correlationId,
    ...(event.causationId !== null && { causationid: event.causationId }),
    ...(typeof event.metadata.traceparent === 'string' && { traceparent: event.metadata.traceparent }),
    ...(typeof event.metadata.tenantId === 'string' && { tenantid: event.metadata.tenantId }),
    ...(hasMetadata && { metadata: JSON.stringify(event.metadata) }),
  };
}

/** Reads a CloudEvent written by `toCloudEvent` (or by another producer, with defaults) back into the envelope. */
export function fromCloudEvent(cloudEvent: Readonly<Record<string, unknown>>): RecordedEvent {
  const text = (name: string): string => {
    const value = cloudEvent[name];
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidArgumentError(`cloudEvent.${name}`, 'is required and must be a non-empty string');
    }
    return value;
  };
  const optional = (name: string): string | undefined => {
    const value = cloudEvent[name];
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  };
  const bigint = (name: string, fallback: bigint): bigint => {
    const value = optional(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`cloudEvent.${name}`, `must be a decimal integer, got '${value}'`);
    return BigInt(value);
  };
  const metadataJson = optional('metadata');
  let metadata: EventMetadata = {};
  if (metadataJson !== undefined) {
    try {
      metadata = JSON.parse(metadataJson) as EventMetadata;
    } catch {
      throw new InvalidArgumentError('cloudEvent.metadata', 'is not valid JSON');
    }
  }
  const id = text('id');
  const time = optional('time');
  const schemaVersion = Number(cloudEvent.schemaversion ?? 1);
  return {
    id,
    type: text('type'),
    source: text('source'),
    streamId: optional('subject') ?? '',
    streamVersion: bigint('streamversion', 0n),
    position: bigint('sequence', 0n),
    schemaVersion: Number.isSafeInteger(schemaVersion) && schemaVersion > 0 ? schemaVersion : 1,
    time: time === undefined ? new Date(0).toISOString() : new Date(time).toISOString(),
    correlationId: optional('correlationid') ?? id,
    causationId: optional('causationid') ?? null,
    data: cloudEvent.data ?? null,
    metadata,
  };
}
