/**
 * The state-based outbox: a service without an event store writes the messages it means to send
 * into a table, in the same transaction as its own writes (`outbox.add(tx, message)`), and a
 * relay moves them to the transport afterwards — so a message goes out if and only if the
 * transaction committed, even when the process dies in between (then later, at least once).
 *
 * Everything that can be decided when a message is added is decided then and kept with it: its
 * id (so a relay that sends it twice sends the same id, and inboxes and brokers dedupe), its
 * correlation and causation, its delivery time. Stores supply `OutboxStorage`; the relay's rules
 * are core's (`outbox-relay.ts`).
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import type { Event, EventMetadata } from '../../envelope/event.js';
import { assertJson } from '../../envelope/json.js';
import { unstorableText } from '../../envelope/text.js';
import { isUuid, uuidv7 } from '../../envelope/uuid.js';
import type { Destination, OutgoingMessage } from '../message.js';
import type { Transport } from '../transport.js';
import type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.js';

/** Where an outbox message goes: `{ topic }` (every group gets it) or `{ queue }` (one consumer handles it). */
export type OutboxDestination = { readonly topic: string; readonly queue?: undefined } | { readonly queue: string; readonly topic?: undefined };

/** What `outbox.add` takes: a message as `send`/`publish` take it, and where it goes. */
export type OutboxMessage<M extends Event = Event> = OutgoingMessage<M> & OutboxDestination;

/** A message as the outbox keeps it: every field the transport needs, decided when it was added. */
export interface StoredOutboxMessage {
  readonly destination: Destination;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly schemaVersion: number | null;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly subject: string | null;
  readonly partitionKey: string | null;
  /** ISO time, or null: deliver at once. */
  readonly deliverAt: string | null;
}

/** A row of the outbox: its place in the order messages were added, and the message. */
export interface OutboxRecord {
  readonly seq: bigint;
  readonly message: StoredOutboxMessage;
}

/**
 * The state-based outbox of one store. `Tx` is the store's transaction handle — a better-sqlite3
 * connection inside a transaction, a `pg` client inside BEGIN, a `MemoryTransaction`.
 */
export interface Outbox<Tx> {
  /** Rows of this outbox are kept apart from other outboxes' in the same tables; one relay per name. */
  readonly name: string;
  /**
   * Writes `messages` into the outbox inside `tx`, the caller's own open transaction: they are
   * relayed once it commits, never if it rolls back. Returns their ids.
   */
  add(tx: Tx, messages: OutboxMessage | readonly OutboxMessage[]): readonly string[] | Promise<readonly string[]>;
  /** Starts the relay: moves committed messages to `transport` in the order they were added. */
  startRelay(transport: Transport, options?: OutboxRelayOptions): OutboxRelay;
  /** Messages added and not yet relayed. */
  pending(): Promise<number>;
}

/** What a store implements for the outbox relay (`@eventloom/core/adapter`). */
export interface OutboxStorage {
  /** The outbox's name; the relay's lease is named after it. */
  readonly name: string;
  /** Takes or renews the relay lease for `holder`; its epoch, or null when another holder has it. */
  acquire(holder: string, ttlMs: number): Promise<bigint | null>;
  /** Gives the lease up now (no-op when `holder` does not hold it). */
  release(holder: string): Promise<void>;
  /** The oldest `limit` committed rows, in the order they were added. */
  peek(limit: number): Promise<readonly OutboxRecord[]>;
  /** Deletes rows `seqs` while `holder` holds the lease under `epoch`; false (nothing deleted) when fenced off. */
  remove(lease: { readonly holder: string; readonly epoch: bigint }, seqs: readonly bigint[]): Promise<boolean>;
  /** Resolves when rows may have been added, after `timeoutMs`, or when `signal` aborts. */
  waitForRows(timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Rows not yet relayed. */
  count(): Promise<number>;
}

const MAX_NAME_LENGTH = 255;

/** Checks an outbox's, queue's or topic's name. */
export function assertOutboxName(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(field, `must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describeValue(value)}`);
  }
  const reason = unstorableText(value);
  if (reason !== undefined) throw new InvalidArgumentError(field, reason);
}

/**
 * Checks `messages` and fixes every envelope field that can be fixed now, before anything is
 * written: an outbox row the relay could not send would block the outbox behind it.
 */
export function prepareOutboxMessages(messages: OutboxMessage | readonly OutboxMessage[], now: Date = new Date()): StoredOutboxMessage[] {
  const list = Array.isArray(messages) ? (messages as readonly OutboxMessage[]) : [messages as OutboxMessage];
  return list.map((message, index) => prepareOne(message, Array.isArray(messages) ? `messages[${index}]` : 'message', now));
}

function prepareOne(message: OutboxMessage, at: string, now: Date): StoredOutboxMessage {
  if (message === null || typeof message !== 'object') {
    throw new InvalidArgumentError(at, `must be a message { topic | queue, type, data }, got ${describeValue(message)}`);
  }
  const { topic, queue } = message as { topic?: unknown; queue?: unknown };
  if ((topic === undefined) === (queue === undefined)) {
    throw new InvalidArgumentError(at, 'must name exactly one destination: { topic } (every group gets it) or { queue } (one consumer handles it)');
  }
  const destination: Destination = topic !== undefined ? { kind: 'topic', name: topic as string } : { kind: 'queue', name: queue as string };
  assertOutboxName(destination.name, `${at}.${destination.kind}`);
  if (typeof message.type !== 'string' || message.type.length === 0 || message.type.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(`${at}.type`, `must be a non-empty string (the message type, e.g. UserRegistered), got ${describeValue(message.type)}`);
  }
  if (message.data === undefined) throw new InvalidArgumentError(`${at}.data`, 'is missing; use null for a message without data');
  assertJson(message.data, `${at}.data`);
  const metadata = message.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new InvalidArgumentError(`${at}.metadata`, `must be an object, got ${describeValue(metadata)}`);
  }
  assertJson(metadata, `${at}.metadata`);
  const id = message.id === undefined ? uuidv7(now.getTime()) : uuidField(message.id, `${at}.id`);
  if (message.schemaVersion !== undefined && (!Number.isSafeInteger(message.schemaVersion) || message.schemaVersion < 1)) {
    throw new InvalidArgumentError(`${at}.schemaVersion`, `must be a positive integer, got ${describeValue(message.schemaVersion)}`);
  }
  return {
    destination,
    id,
    type: message.type,
    data: message.data,
    metadata,
    schemaVersion: message.schemaVersion ?? null,
    correlationId: message.correlationId === undefined ? id : textField(message.correlationId, `${at}.correlationId`),
    causationId: message.causationId === undefined ? null : textField(message.causationId, `${at}.causationId`),
    subject: message.subject === undefined ? null : textField(message.subject, `${at}.subject`),
    partitionKey: message.partitionKey === undefined ? null : textField(message.partitionKey, `${at}.partitionKey`),
    deliverAt: deliverAt(message, at, now),
  };
}

function uuidField(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUuid(value)) throw new InvalidArgumentError(field, `must be a UUID, got ${describeValue(value)}`);
  return value.toLowerCase();
}

function textField(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(field, `must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describeValue(value)}`);
  }
  const reason = unstorableText(value);
  if (reason !== undefined) throw new InvalidArgumentError(field, reason);
  return value;
}

function deliverAt(message: OutboxMessage, at: string, now: Date): string | null {
  const { deliverAt: when, delayMs } = message;
  if (when !== undefined && delayMs !== undefined) throw new InvalidArgumentError(`${at}.deliverAt`, 'give either deliverAt or delayMs, not both');
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new InvalidArgumentError(`${at}.delayMs`, `must be a non-negative number of milliseconds, got ${describeValue(delayMs)}`);
    }
    // Counted from when the message was added, not from when the relay gets to it.
    return new Date(now.getTime() + delayMs).toISOString();
  }
  if (when === undefined) return null;
  const date = when instanceof Date ? when : typeof when === 'string' ? new Date(when) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(`${at}.deliverAt`, `must be a Date or an ISO 8601 string, got ${describeValue(when)}`);
  }
  return date.toISOString();
}

/** The message as `send`/`publish` take it again. */
export function outgoingFromStored(stored: StoredOutboxMessage): OutgoingMessage {
  return {
    id: stored.id,
    type: stored.type,
    data: stored.data,
    metadata: stored.metadata,
    correlationId: stored.correlationId,
    ...(stored.schemaVersion !== null && { schemaVersion: stored.schemaVersion }),
    ...(stored.causationId !== null && { causationId: stored.causationId }),
    ...(stored.subject !== null && { subject: stored.subject }),
    ...(stored.partitionKey !== null && { partitionKey: stored.partitionKey }),
    ...(stored.deliverAt !== null && { deliverAt: stored.deliverAt }),
  };
}

/** How stores keep a `StoredOutboxMessage`: one JSON text (the destination too). */
export function encodeStoredOutboxMessage(message: StoredOutboxMessage): string {
  return JSON.stringify(message);
}

export function decodeStoredOutboxMessage(json: string | object): StoredOutboxMessage {
  return (typeof json === 'string' ? JSON.parse(json) : json) as StoredOutboxMessage;
}
