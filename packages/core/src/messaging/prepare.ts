/**
 * Checks and completes outgoing messages before any transport touches storage or a broker, so
 * every transport refuses the same bad input with the same typed error and sends nothing. The
 * event rules (type, id, schema version, JSON data and metadata, size, correlation) are the
 * store's own (`prepareAppend`); the routing rules (subject, partition key, delivery time) are
 * added here.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError, InvalidEventError } from '../envelope/errors.js';
import type { Event, EventToAppend } from '../envelope/event.js';
import { MAX_STREAM_ID_LENGTH } from '../envelope/stream-id.js';
import { unstorableText } from '../envelope/text.js';
import { checkAppend, prepareAppend, type CheckedEvent } from '../event-store/prepare-append.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import type { PreparedMessage } from './driver.js';
import type { MessageEnvelope, OutgoingMessage } from './message.js';
import type { SendOptions } from './transport.js';

/** Longest partition key and subject, as a stream id may be either. */
export const MAX_PARTITION_KEY_LENGTH = MAX_STREAM_ID_LENGTH;
export const MAX_SUBJECT_LENGTH = MAX_STREAM_ID_LENGTH;
/** Messages per `send`/`publish` call: they are stored all or none, in one write. */
export const MAX_MESSAGES_PER_SEND = 10_000;
/** Furthest delay: about 10 years, so delivery times stay well inside every clock's range. */
export const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;

/** The handled message a send from a handler continues (see `MessageContext`). */
export interface CausingEnvelope {
  readonly id: string;
  readonly correlationId: string;
}

export interface PrepareMessagesOptions {
  /** The sending service, the envelope's `source`. */
  readonly source: string;
  /** Applied to messages that give no delivery time of their own. */
  readonly defaults?: SendOptions | undefined;
  /** Sent from a handler: correlation and causation continue the handled message's. */
  readonly causedBy?: CausingEnvelope | undefined;
  /** Validates data of the types it knows (and fills in their latest schema version). */
  readonly schemas?: SchemaRegistry | undefined;
  /** Milliseconds since the epoch; default `Date.now()`. */
  readonly now?: number;
  /**
   * Whether to write `dataJson`/`metadataJson` (default true). False for a driver that never
   * reads them (see `TransportDriver.needsJson`): the same checks run without writing the text.
   */
  readonly json?: boolean;
}

/**
 * The messages as the transport stores them, every envelope field filled in. Throws
 * `InvalidArgumentError` or `InvalidEventError` (its `field` names the part, e.g.
 * `messages[2].partitionKey`) and prepares nothing when any message is bad.
 */
export function prepareMessages(
  messages: OutgoingMessage | readonly OutgoingMessage[],
  options: PrepareMessagesOptions,
): PreparedMessage[] | Promise<PreparedMessage[]> {
  const list = asList(messages);
  const now = options.now ?? Date.now();
  const defaults = deliveryOf(options.defaults, 'options', now);
  const causedBy = options.causedBy;
  // Not from a handler: the messages themselves, checked to be objects (no copy, no array).
  const inherited = causedBy === undefined ? objects(list) : list.map((message, i) => inherit(message, causedBy, i));
  if (options.schemas === undefined) {
    let checked: { readonly events: readonly CheckedEvent[] };
    try {
      checked = checkAppend('messages', inherited, undefined, undefined, options.json !== false);
    } catch (error) {
      throw renamed(error);
    }
    return finish(list, checked, defaults, options.source, now);
  }
  return prepareAppend('messages', inherited, undefined, options.schemas).then(
    (prepared) => finish(list, prepared, defaults, options.source, now),
    (error: unknown) => {
      throw renamed(error);
    },
  );
}

function asList(messages: OutgoingMessage | readonly OutgoingMessage[]): readonly OutgoingMessage[] {
  if (Array.isArray(messages)) {
    if (messages.length === 0) throw new InvalidArgumentError('messages', 'must contain at least one message');
    if (messages.length > MAX_MESSAGES_PER_SEND) {
      throw new InvalidArgumentError('messages', `holds ${messages.length} messages; send at most ${MAX_MESSAGES_PER_SEND} at once`);
    }
    return messages as readonly OutgoingMessage[];
  }
  if (messages === null || typeof messages !== 'object') {
    throw new InvalidArgumentError('messages', `must be a message { type, data } or an array of them, got ${describeValue(messages)}`);
  }
  return [messages as OutgoingMessage];
}

function objects(list: readonly OutgoingMessage[]): readonly EventToAppend<Event>[] {
  for (let i = 0; i < list.length; i++) {
    const message = list[i];
    if (message === null || typeof message !== 'object') throw new InvalidEventError(`messages[${i}]`, 'must be an object { type, data }');
  }
  return list;
}

/** The conversation rule, the same as `commandCausedBy`'s: join the handled message's conversation, name it as cause — unless the message says otherwise. */
function inherit(message: OutgoingMessage, causedBy: CausingEnvelope | undefined, index: number): EventToAppend<Event> {
  if (message === null || typeof message !== 'object') throw new InvalidEventError(`messages[${index}]`, 'must be an object { type, data }');
  if (causedBy === undefined) return message;
  return {
    ...message,
    correlationId: message.correlationId ?? causedBy.correlationId,
    causationId: message.causationId ?? causedBy.id,
  };
}

function finish(
  list: readonly OutgoingMessage[],
  prepared: { readonly events: readonly CheckedEvent[] },
  defaults: Date | null,
  source: string,
  now: number,
): PreparedMessage[] {
  const time = isoTime(now);
  const out: PreparedMessage[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const message = list[i]!;
    const event = prepared.events[i]!;
    const own = deliveryOf(message, i, now);
    const envelope: MessageEnvelope = {
      id: event.id,
      type: event.type,
      schemaVersion: event.schemaVersion,
      time,
      source,
      correlationId: event.correlationId,
      causationId: event.causationId,
      subject: optionalText(message.subject, i, 'subject', MAX_SUBJECT_LENGTH),
      partitionKey: optionalText(message.partitionKey, i, 'partitionKey', MAX_PARTITION_KEY_LENGTH),
      data: event.data,
      metadata: event.metadata,
    };
    out[i] = { envelope, deliverAt: own === undefined ? defaults : own, dataJson: event.dataJson, metadataJson: event.metadataJson };
  }
  return out;
}

let lastTimeMs = NaN;
let lastTime = '';

/** `new Date(ms).toISOString()`, written once per millisecond: for single sends it was a fifth of the send. */
function isoTime(ms: number): string {
  if (ms !== lastTimeMs) {
    lastTime = new Date(ms).toISOString();
    lastTimeMs = ms;
  }
  return lastTime;
}

/**
 * The delivery time `holder` asks for: `undefined` when it says nothing, `null` for now (a time
 * already past included), else the time.
 */
function deliveryOf(holder: SendOptions | undefined, at: number, now: number): Date | null | undefined;
function deliveryOf(holder: SendOptions | undefined, at: 'options', now: number): Date | null;
function deliveryOf(holder: SendOptions | undefined, at: number | 'options', now: number): Date | null | undefined {
  if (holder === undefined) return at === 'options' ? null : undefined;
  if (holder === null || typeof holder !== 'object') throw new InvalidArgumentError(at === 'options' ? at : `messages[${at}]`, `must be an object, got ${describeValue(holder)}`);
  const { deliverAt, delayMs } = holder;
  if (deliverAt === undefined && delayMs === undefined) return at === 'options' ? null : undefined;
  const fail = (part: string, reason: string): never => {
    throw at === 'options' ? new InvalidArgumentError(`options.${part}`, reason) : new InvalidEventError(`messages[${at}].${part}`, reason);
  };
  if (deliverAt !== undefined && delayMs !== undefined) fail('deliverAt', 'and delayMs are both given; give one of them');
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      fail('delayMs', `must be a number of milliseconds from 0 to ${MAX_DELAY_MS}, got ${describeValue(delayMs)}`);
    }
    return delayMs === 0 ? null : new Date(now + Math.ceil(delayMs));
  }
  if (deliverAt !== undefined) {
    const ms = deliverAt instanceof Date ? deliverAt.getTime() : typeof deliverAt === 'string' && ISO_TIME.test(deliverAt) ? Date.parse(deliverAt) : NaN;
    if (!Number.isFinite(ms)) fail('deliverAt', `must be a valid Date or an ISO 8601 time with a zone (e.g. '2030-01-01T00:00:00Z'), got ${describeValue(deliverAt)}`);
    if (ms > now + MAX_DELAY_MS) fail('deliverAt', `is more than ${MAX_DELAY_MS} ms from now`);
    return ms <= now ? null : new Date(ms);
  }
  return at === 'options' ? null : undefined;
}

// A zone is required: a time without one means different instants on different machines.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** The field is spelt out (`messages[2].subject`) only for an error: building it per message showed in send profiles. */
function optionalText(value: unknown, at: number, part: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidEventError(`messages[${at}].${part}`, `must be a non-empty string of at most ${max} characters, got ${describeValue(value)}`);
  }
  const reason = unstorableText(value);
  if (reason !== undefined) throw new InvalidEventError(`messages[${at}].${part}`, reason);
  return value;
}

/** The store's checks name `events[i]`; a sender thinks of `messages[i]`. */
function renamed(error: unknown): unknown {
  if (error instanceof InvalidEventError && error.field.startsWith('events')) {
    return new InvalidEventError(`messages${error.field.slice('events'.length)}`, error.reason, error.issues);
  }
  if (error instanceof InvalidArgumentError && error.argument === 'events') {
    return new InvalidArgumentError('messages', error.reason.replace(/event/g, 'message'));
  }
  return error;
}
