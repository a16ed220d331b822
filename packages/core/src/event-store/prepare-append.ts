/**
 * Checks and normalizes an append before any store touches storage, so every adapter rejects
 * the same bad input with the same typed error and writes nothing.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError, InvalidEventError, type ExpectedVersionDescription } from '../envelope/errors.js';
import type { Event, EventMetadata, EventToAppend } from '../envelope/event.js';
import type { AppendOptions } from './event-store.js';
import { normalizeExpectedVersion } from './expected-version.js';
import { assertStorableEventJson, checkEventJson, MAX_EVENT_BYTES, tooLarge } from '../envelope/json.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { assertStreamId } from '../envelope/stream-id.js';
import { unstorableText } from '../envelope/text.js';
import { isUuid, uuidv7 } from '../envelope/uuid.js';

export const MAX_EVENT_TYPE_LENGTH = 255;

/** Schema versions are 32-bit signed integers in every store (PostgreSQL `integer`). */
export const MAX_SCHEMA_VERSION = 2 ** 31 - 1;

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
const EMPTY_METADATA_PART: JsonPart = Object.freeze({ value: EMPTY_METADATA, json: '{}', minBytes: 2, maxBytes: 2 });

// The last type found storable: most appends and sends repeat one type, and the check is pure.
let storableType = '';

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
    if (data === event.data) {
      validated.push(event);
      continue;
    }
    // A schema may transform what it validates; the result must meet the same rules as the input.
    const json = jsonPart(data, i, 'data', MAX_EVENT_BYTES - byteLength(event.metadataJson));
    checkSize(i, json.json, event.metadataJson);
    validated.push({ ...event, data: json.value, dataJson: json.json });
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
  return checkAppend(streamId, events, options, registry, true) as PreparedAppend;
}

/** A `PreparedEvent` whose JSON text may not have been written (see `checkAppend`). */
export type CheckedEvent = Omit<PreparedEvent, 'dataJson' | 'metadataJson'> & {
  readonly dataJson: string | undefined;
  readonly metadataJson: string | undefined;
};

/**
 * `prepareAppendSync`, the JSON text optional: with `writeJson` false the same checks run (the
 * walk checks text and bounds the size instead of scanning and measuring the text) and
 * `dataJson`/`metadataJson` are written only where a check needed them — for a consumer that
 * never reads them (the in-memory transport handing over the sent objects), JSON.stringify was
 * most of the cost of a send of 1 KB.
 */
export function checkAppend(
  streamId: string,
  events: readonly EventToAppend<Event>[],
  options: AppendOptions | undefined,
  registry: SchemaRegistry | undefined,
  writeJson: boolean,
): { readonly streamId: string; readonly expected: ExpectedVersionDescription; readonly events: readonly CheckedEvent[] } {
  assertStreamId(streamId);
  const expected = normalizeExpectedVersion(options?.expectedVersion);
  if (!Array.isArray(events)) throw new InvalidArgumentError('events', 'must be an array of events');
  if (events.length === 0) throw new InvalidArgumentError('events', 'must contain at least one event');
  // Only ids given by the caller can repeat: generated ones are strictly increasing.
  let seen: Set<string> | undefined;
  // The clock is read once per 256 generated ids: Date.now() was a third of uuidv7's cost, and
  // within one append the counter keeps the ids increasing either way.
  let generated = 0;
  let now = 0;
  const out: CheckedEvent[] = new Array(events.length);
  // Field names (`events[3].data`) are spelt out only for an error: building four per event
  // was most of what this loop allocated for input that is fine.
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event === null || typeof event !== 'object') throw new InvalidEventError(`events[${i}]`, 'must be an object');
    const { type } = event;
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidEventError(`events[${i}].type`, 'is missing; every event needs a past-tense type such as OrderCreated');
    }
    if (type.length > MAX_EVENT_TYPE_LENGTH) {
      throw new InvalidEventError(`events[${i}].type`, `is ${type.length} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}`);
    }
    if (type !== storableType) {
      assertText(type, i, 'type');
      storableType = type;
    }
    let id = event.id;
    if (id === undefined) {
      if ((generated++ & 0xff) === 0) now = Date.now();
      id = uuidv7(now);
    } else if (typeof id !== 'string' || !isUuid(id)) {
      throw new InvalidEventError(`events[${i}].id`, `must be a UUID, got ${describeValue(id)}`);
    } else {
      // One spelling per id in every store (PostgreSQL's uuid type reads back lowercase).
      id = id.toLowerCase();
      seen ??= new Set();
      if (seen.has(id)) throw new InvalidEventError(`events[${i}].id`, `repeats id ${id} of an earlier event in the same append`);
      seen.add(id);
    }
    const schemaVersion = event.schemaVersion ?? registry?.latestVersion(type) ?? 1;
    if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > MAX_SCHEMA_VERSION) {
      throw new InvalidEventError(`events[${i}].schemaVersion`, `must be an integer from 1 to ${MAX_SCHEMA_VERSION}, got ${describeValue(schemaVersion)}`);
    }
    if (!('data' in event)) throw new InvalidEventError(`events[${i}].data`, 'is missing; use {} for an event without data');
    const data = jsonPart(event.data, i, 'data', MAX_EVENT_BYTES, writeJson);
    const givenMetadata = event.metadata ?? EMPTY_METADATA;
    if (givenMetadata === null || typeof givenMetadata !== 'object' || Array.isArray(givenMetadata)) {
      throw new InvalidEventError(`events[${i}].metadata`, 'must be an object');
    }
    const metadata =
      givenMetadata === EMPTY_METADATA
        ? EMPTY_METADATA_PART
        : jsonPart(givenMetadata, i, 'metadata', MAX_EVENT_BYTES - data.minBytes, writeJson);
    if (data.json !== undefined && metadata.json !== undefined) checkSize(i, data.json, metadata.json);
    else checkBounds(i, data, metadata);
    const correlationId = optionalString(event.correlationId, i, 'correlationId') ?? id;
    const causationId = optionalString(event.causationId, i, 'causationId') ?? null;
    out[i] = {
      id,
      type,
      schemaVersion,
      data: data.value,
      dataJson: data.json,
      metadata: metadata.value as EventMetadata,
      metadataJson: metadata.json,
      correlationId,
      causationId,
    };
  }
  return { streamId, expected, events: out };
}

function optionalString(value: unknown, index: number, part: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new InvalidEventError(`events[${index}].${part}`, `must be a non-empty string of at most 255 characters, got ${describeValue(value)}`);
  }
  assertText(value, index, part);
  return value;
}

function assertText(text: string, index: number, part: string): void {
  const reason = unstorableText(text);
  if (reason !== undefined) throw new InvalidEventError(`events[${index}].${part}`, reason);
}

interface JsonPart<J extends string | undefined = string> {
  /** What the stores record: the value itself, or what its JSON text reads back as when they differ (-0). */
  readonly value: unknown;
  readonly json: J;
  readonly minBytes: number;
  /** An upper bound of the JSON's size in UTF-8 bytes (exact once `json` is written). */
  readonly maxBytes: number;
}

/**
 * Checks `events[index].part` (see `checkJson`; the event is the size field) and writes it as
 * JSON — with `writeJson` false only when the value differs from its JSON (then the text is what
 * the stores read back).
 */
function jsonPart(value: unknown, index: number, part: string, maxBytes: number, writeJson?: true): JsonPart;
function jsonPart(value: unknown, index: number, part: string, maxBytes: number, writeJson: boolean): JsonPart<string | undefined>;
function jsonPart(value: unknown, index: number, part: string, maxBytes: number, writeJson = true): JsonPart<string | undefined> {
  if (!writeJson) {
    const check = checkEventJson(value, index, part, maxBytes, true);
    if (!check.normalized) return { value, json: undefined, minBytes: check.minBytes, maxBytes: check.maxBytes };
  }
  // checkEventJson's answer lasts until the next check: keep the two figures read below.
  const check = checkEventJson(value, index, part, maxBytes, false);
  const normalized = check.normalized;
  const minBytes = check.minBytes;
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    // Getters and proxies can still make JSON.stringify fail after the checks passed.
    throw new InvalidEventError(`events[${index}].${part}`, `cannot be written as JSON: ${cause instanceof Error ? cause.message : describeValue(cause)}`);
  }
  assertStorableEventJson(value, json, index, part);
  // Every store reads back the JSON text: the reference store must record exactly that too.
  return { value: normalized ? (JSON.parse(json) as unknown) : value, json, minBytes, maxBytes: json.length * 3 };
}

/** `checkSize` where the JSON text was not written: the bound decides, or, near the limit, the text. */
function checkBounds(index: number, data: JsonPart<string | undefined>, metadata: JsonPart<string | undefined>): void {
  if (data.maxBytes + metadata.maxBytes <= MAX_EVENT_BYTES) return;
  checkSize(index, data.json ?? JSON.stringify(data.value), metadata.json ?? JSON.stringify(metadata.value));
}

/** One UTF-16 unit is at most 3 UTF-8 bytes, so short JSON needs no exact count. */
function checkSize(index: number, dataJson: string, metadataJson: string): void {
  if ((dataJson.length + metadataJson.length) * 3 <= MAX_EVENT_BYTES) return;
  const bytes = byteLength(dataJson) + byteLength(metadataJson);
  if (bytes > MAX_EVENT_BYTES) throw tooLarge(`events[${index}]`, MAX_EVENT_BYTES, bytes);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
