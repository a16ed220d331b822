/**
 * Checks and normalizes an append before any store touches storage, so every adapter rejects
 * the same bad input with the same typed error and writes nothing.
 */
import { InvalidArgumentError, InvalidEventError, type ExpectedVersionDescription } from './errors.js';
import type { Event, EventMetadata, EventToAppend } from './event.js';
import type { AppendOptions } from './event-store.js';
import { normalizeExpectedVersion } from './expected-version.js';
import { assertJson } from './json.js';
import type { SchemaRegistry } from './schema-registry.js';
import { assertStreamId } from './stream-id.js';
import { isUuid, uuidv7 } from './uuid.js';

export const MAX_EVENT_TYPE_LENGTH = 255;

export interface PreparedEvent {
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly dataJson: string;
  readonly metadata: EventMetadata;
  readonly metadataJson: string;
  readonly correlationId: string;
  readonly causationId: string | null;
}

export interface PreparedAppend {
  readonly streamId: string;
  readonly expected: ExpectedVersionDescription;
  readonly events: readonly PreparedEvent[];
}

const EMPTY_METADATA: EventMetadata = Object.freeze({});

/**
 * Validates the stream id, expected version and every event (type, id, JSON-ness of data and
 * metadata, schema when `registry` knows the type) and fills in ids, schema versions and
 * correlation. Throws `InvalidArgumentError` or `InvalidEventError` naming the bad part.
 */
export async function prepareAppend(
  streamId: string,
  events: readonly EventToAppend<Event>[],
  options: AppendOptions | undefined,
  registry: SchemaRegistry | undefined,
): Promise<PreparedAppend> {
  const prepared = prepareAppendSync(streamId, events, options, registry);
  if (!registry) return prepared;
  const validated: PreparedEvent[] = [];
  for (let i = 0; i < prepared.events.length; i++) {
    const event = prepared.events[i]!;
    if (!registry.has(event.type)) {
      validated.push(event);
      continue;
    }
    const data = await registry.validate(event.type, event.schemaVersion, event.data, `events[${i}].data`);
    validated.push(data === event.data ? event : { ...event, data, dataJson: JSON.stringify(data) });
  }
  return { ...prepared, events: validated };
}

/** The synchronous part of `prepareAppend`: everything but schema validation. */
export function prepareAppendSync(
  streamId: string,
  events: readonly EventToAppend<Event>[],
  options: AppendOptions | undefined,
  registry: SchemaRegistry | undefined,
): PreparedAppend {
  assertStreamId(streamId);
  const expected = normalizeExpectedVersion(options?.expectedVersion);
  if (!Array.isArray(events)) throw new InvalidArgumentError('events', 'must be an array of events');
  if (events.length === 0) throw new InvalidArgumentError('events', 'must contain at least one event');
  const seen = new Set<string>();
  const out: PreparedEvent[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    const field = `events[${i}]`;
    if (event === null || typeof event !== 'object') throw new InvalidEventError(field, 'must be an object');
    const { type } = event;
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidEventError(`${field}.type`, 'is missing; every event needs a past-tense type such as OrderCreated');
    }
    if (type.length > MAX_EVENT_TYPE_LENGTH) {
      throw new InvalidEventError(`${field}.type`, `is ${type.length} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}`);
    }
    let id = event.id;
    if (id === undefined) {
      id = uuidv7();
    } else if (typeof id !== 'string' || !isUuid(id)) {
      throw new InvalidEventError(`${field}.id`, `must be a UUID, got ${JSON.stringify(id)}`);
    } else {
      // One spelling per id in every store (PostgreSQL's uuid type reads back lowercase).
      id = id.toLowerCase();
    }
    if (seen.has(id)) throw new InvalidEventError(`${field}.id`, `repeats id ${id} of an earlier event in the same append`);
    seen.add(id);
    const schemaVersion = event.schemaVersion ?? registry?.latestVersion(type) ?? 1;
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
      throw new InvalidEventError(`${field}.schemaVersion`, `must be a positive integer, got ${String(schemaVersion)}`);
    }
    if (!('data' in event)) throw new InvalidEventError(`${field}.data`, 'is missing; use {} for an event without data');
    assertJson(event.data, `${field}.data`);
    const metadata = event.metadata ?? EMPTY_METADATA;
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new InvalidEventError(`${field}.metadata`, 'must be an object');
    }
    assertJson(metadata, `${field}.metadata`);
    const correlationId = optionalString(event.correlationId, `${field}.correlationId`) ?? id;
    const causationId = optionalString(event.causationId, `${field}.causationId`) ?? null;
    out[i] = {
      id,
      type,
      schemaVersion,
      data: event.data,
      dataJson: JSON.stringify(event.data),
      metadata,
      metadataJson: metadata === EMPTY_METADATA ? '{}' : JSON.stringify(metadata),
      correlationId,
      causationId,
    };
  }
  return { streamId, expected, events: out };
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new InvalidEventError(field, 'must be a non-empty string of at most 255 characters');
  }
  return value;
}
