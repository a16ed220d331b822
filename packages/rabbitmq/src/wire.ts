/**
 * Messages as AMQP carries them: the core codec's CloudEvents binary headers become AMQP
 * application headers (`ce-id`, `ce-type`, …; `content-type` is the AMQP property), the data is
 * the body. Read back, AMQP headers become the string headers the codec reads; the AMQP
 * CloudEvents binding's `cloudEvents:`/`cloudEvents_` prefixes are read as `ce-` too.
 */
import type { Message, Options } from 'amqplib';
import { InvalidArgumentError } from '@eventloom/core';
import { encodeMessage, type CloudEventsMode, type PreparedMessage } from '@eventloom/core/adapter';

/** The partition key in structured mode (binary mode has `ce-partitionkey`). */
export const KEY_HEADER = 'eventloom-key';

/** Headers Eventloom adds for its own routing and bookkeeping; never shown as the message's. */
export function isOwnHeader(name: string): boolean {
  return name.startsWith('eventloom-') || name.startsWith('x-');
}

export interface AmqpPayload {
  readonly content: Buffer;
  readonly properties: Options.Publish;
}

/** amqplib encodes a message's headers into a 64 KiB table; room is kept for Eventloom's own. */
export const MAX_HEADER_BYTES = 60 * 1024;

/**
 * `mandatory`: the publish is returned if no queue takes it (sends to a queue).
 * @throws InvalidArgumentError when the message's attributes (metadata above all) do not fit AMQP's header table
 */
export function encodeForAmqp(message: PreparedMessage, index = 0, mode: CloudEventsMode = 'binary', mandatory = false): AmqpPayload {
  const encoded = encodeMessage(message.envelope, { dataJson: message.dataJson, metadataJson: message.metadataJson, mode });
  const all = encoded.headers as Record<string, string>;
  // Copied without content-type (an AMQP property here), sizing as it goes: at most 3 bytes per
  // UTF-16 unit, so the exact count is only needed near the limit.
  const headers: Record<string, string> = {};
  let bound = 0;
  for (const name in all) {
    if (name === 'content-type') continue;
    const value = all[name]!;
    headers[name] = value;
    bound += name.length + value.length * 3 + 6;
  }
  // Structured mode has the key in the body; the receiver needs it before decoding, to keep a key's order.
  if (mode === 'structured' && message.envelope.partitionKey !== null) {
    headers[KEY_HEADER] = message.envelope.partitionKey;
    bound += KEY_HEADER.length + message.envelope.partitionKey.length * 3 + 6;
  }
  if (bound > MAX_HEADER_BYTES) {
    let size = 0;
    for (const name in headers) size += name.length + Buffer.byteLength(headers[name]!) + 6;
    if (size > MAX_HEADER_BYTES) {
      throw new InvalidArgumentError(
        `messages[${index}]`,
        `its attributes take ${size} bytes as AMQP headers, above the ${MAX_HEADER_BYTES} that fit AMQP's 64 KiB header table; keep metadata small and put large values in data. Nothing was sent`,
      );
    }
  }
  return {
    content: Buffer.isBuffer(encoded.body) ? encoded.body : Buffer.from(encoded.body.buffer, encoded.body.byteOffset, encoded.body.byteLength),
    properties: {
      persistent: true,
      contentType: all['content-type'],
      messageId: message.envelope.id,
      timestamp: Math.floor(Date.parse(message.envelope.time) / 1000),
      type: message.envelope.type,
      headers,
      // Set here for queues (the publish must fail if the queue is gone) so the publication needs no copy.
      mandatory,
    },
  };
}

/** A received message's headers as the codec reads them (names lowercase, values text), Eventloom's own left out. */
export function stringHeaders(message: Message): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  for (const name in headers) {
    const value = headers[name];
    let key = name.toLowerCase();
    if (isOwnHeader(key)) continue;
    if (key.startsWith('cloudevents:') || key.startsWith('cloudevents_')) key = `ce-${key.slice('cloudevents:'.length)}`;
    const text = headerText(value);
    if (text !== undefined) out[key] = text;
  }
  const contentType = message.properties.contentType as unknown;
  if (typeof contentType === 'string' && contentType.length > 0) out['content-type'] = contentType;
  return out;
}

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  // Typed values some clients send ({ type, value }) and tables.
  if (typeof value === 'object' && 'value' in value && Object.keys(value).length === 2) return headerText((value as { value: unknown }).value);
  return JSON.stringify(value);
}

/** Eventloom's own header as a number, or `undefined`. */
export function numberHeader(message: Message, name: string): number | undefined {
  const value = (message.properties.headers as Record<string, unknown> | undefined)?.[name];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : typeof value === 'bigint' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function stringHeader(message: Message, name: string): string | undefined {
  const value = (message.properties.headers as Record<string, unknown> | undefined)?.[name];
  return value === undefined || value === null ? undefined : headerText(value);
}

/** The publish properties of a received message, to send it on again (its headers copied, Eventloom's own dropped unless kept). */
export function republishProperties(message: Message, extra: Record<string, unknown>, keep: readonly string[] = []): Options.Publish {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries((message.properties.headers ?? {}) as Record<string, unknown>)) {
    if (!isOwnHeader(name.toLowerCase()) || keep.includes(name)) headers[name] = value;
  }
  Object.assign(headers, extra);
  const p = message.properties;
  const properties: Options.Publish = { persistent: true, headers };
  if (p.contentType) properties.contentType = p.contentType as string;
  if (p.contentEncoding) properties.contentEncoding = p.contentEncoding as string;
  if (p.messageId) properties.messageId = p.messageId as string;
  if (p.timestamp) properties.timestamp = p.timestamp as number;
  if (p.type) properties.type = p.type as string;
  if (p.correlationId) properties.correlationId = p.correlationId as string;
  if (p.appId) properties.appId = p.appId as string;
  return properties;
}
