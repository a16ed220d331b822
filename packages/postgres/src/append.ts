/** An append as one call of the `append` function: its parameters, and the result built from its answer. */
import {
  InvalidArgumentError,
  StoreCorruptError,
  type AppendResult,
  type EventMetadata,
  type ExpectedVersionDescription,
  type RecordedEvent,
} from '@eventloom/core';
import { type PreparedAppend } from '@eventloom/core/adapter';
import type pg from 'pg';
import { run } from './database.js';
import { eventFromStreamRow, isoFromPg } from './rows.js';
import { EXPECTED_KIND, MAX_EVENTS_PER_TRANSACTION } from './sql/functions.js';
import type { Queries } from './sql/queries.js';
import { assertStorable } from './storable-text.js';

export interface AppendContext {
  readonly queries: Queries;
  /** The appending process's clock; the function records the stream's last time instead when that is later. */
  readonly time: string;
  readonly source: string;
  /** Whether the caller gave any event id; ids the store made cannot be recorded yet, so need no lookup. */
  readonly idsGiven: boolean;
}

/**
 * Checks what core's `prepareAppend` cannot know about PostgreSQL and returns the JSON to send.
 * Throws before anything is sent.
 */
export function assertAppendable(prepared: PreparedAppend): JsonArrays {
  if (prepared.events.length > MAX_EVENTS_PER_TRANSACTION) {
    throw new InvalidArgumentError(
      'events',
      `holds ${prepared.events.length} events; one append can hold at most ${MAX_EVENTS_PER_TRANSACTION}`,
    );
  }
  const json = jsonArrays(prepared);
  assertStorable(prepared.events, json);
  return json;
}

function expectedParameters(expected: ExpectedVersionDescription): [number, string | null] {
  switch (expected) {
    case 'any':
      return [EXPECTED_KIND.any, null];
    case 'no_stream':
      return [EXPECTED_KIND.noStream, null];
    case 'stream_exists':
      return [EXPECTED_KIND.streamExists, null];
    default:
      return [EXPECTED_KIND.exact, expected.toString()];
  }
}

/** The function's parameters; data and metadata travel as one JSON array each (`jsonArrays`). */
export function appendValues(prepared: PreparedAppend, { time, source, idsGiven }: AppendContext, json: JsonArrays): unknown[] {
  const { events } = prepared;
  const count = events.length;
  const ids = new Array<string>(count);
  const types = new Array<string>(count);
  const schemaVersions = new Array<number>(count);
  const correlationIds = new Array<string>(count);
  const causationIds = new Array<string | null>(count);
  for (let i = 0; i < count; i++) {
    const event = events[i]!;
    ids[i] = event.id;
    types[i] = event.type;
    schemaVersions[i] = event.schemaVersion;
    correlationIds[i] = event.correlationId;
    causationIds[i] = event.causationId;
  }
  const [kind, version] = expectedParameters(prepared.expected);
  return [prepared.streamId, kind, version, ids, types, schemaVersions, json.data, json.metadata, correlationIds, causationIds, time, source, idsGiven];
}

/** What one group append needs of each append in it. */
export interface GroupedAppend {
  readonly prepared: PreparedAppend;
  readonly context: AppendContext;
  readonly json: JsonArrays;
}

/**
 * The parameters of `appendGroup`: per append its stream, expectation, offset and count into the
 * flat event arrays, time, source and whether ids were given; data and metadata as one JSON array
 * of each append's array (already JSON text, so only joined).
 */
export function appendGroupValues(appends: readonly GroupedAppend[]): unknown[] {
  const size = appends.length;
  const streamIds = new Array<string>(size);
  const kinds = new Array<number>(size);
  const versions = new Array<string | null>(size);
  const offsets = new Array<number>(size);
  const counts = new Array<number>(size);
  const times = new Array<string>(size);
  const sources = new Array<string>(size);
  const idsGiven = new Array<boolean>(size);
  const ids: string[] = [];
  const types: string[] = [];
  const schemaVersions: number[] = [];
  const correlationIds: string[] = [];
  const causationIds: (string | null)[] = [];
  let data = '[';
  let metadata = '[';
  for (let a = 0; a < size; a++) {
    const { prepared, context, json } = appends[a]!;
    const [kind, version] = expectedParameters(prepared.expected);
    streamIds[a] = prepared.streamId;
    kinds[a] = kind;
    versions[a] = version;
    offsets[a] = ids.length;
    counts[a] = prepared.events.length;
    times[a] = context.time;
    sources[a] = context.source;
    idsGiven[a] = context.idsGiven;
    for (const event of prepared.events) {
      ids.push(event.id);
      types.push(event.type);
      schemaVersions.push(event.schemaVersion);
      correlationIds.push(event.correlationId);
      causationIds.push(event.causationId);
    }
    if (a > 0) {
      data += ',';
      metadata += ',';
    }
    data += json.data;
    metadata += json.metadata;
  }
  return [
    streamIds,
    kinds,
    versions,
    offsets,
    counts,
    ids,
    types,
    schemaVersions,
    `${data}]`,
    `${metadata}]`,
    correlationIds,
    causationIds,
    times,
    sources,
    idsGiven,
  ];
}

export interface JsonArrays {
  readonly data: string;
  readonly metadata: string;
}

/** The events' data and metadata as JSON arrays, built from the JSON `prepareAppend` already made. */
export function jsonArrays(prepared: PreparedAppend): JsonArrays {
  const { events } = prepared;
  let data = '[';
  let metadata = '[';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (i > 0) {
      data += ',';
      metadata += ',';
    }
    data += event.dataJson;
    metadata += event.metadataJson;
  }
  return { data: `${data}]`, metadata: `${metadata}]` };
}

/** The `append` function's answer, a record in PostgreSQL's text form: `(position,version,t|f,"time")`. */
function appendOutcome(record: string): { firstPosition: bigint; firstVersion: bigint; idempotent: boolean; time: string } {
  const match = /^\((\d+),(\d+),([tf]),"?([^"]*)"?\)$/.exec(record);
  if (!match) throw new StoreCorruptError(`Unexpected answer from the append function: ${record}; is the schema at the migration this package expects?`);
  return { firstPosition: BigInt(match[1]!), firstVersion: BigInt(match[2]!), idempotent: match[3] === 't', time: isoFromPg(match[4]!) };
}

/**
 * Calls the `append` function on `client` (inside the caller's transaction, if any). For an exact
 * retry, reads back what the first append recorded, as the reference store answers.
 */
export async function appendOn(
  client: pg.ClientBase,
  prepared: PreparedAppend,
  json: JsonArrays,
  context: AppendContext,
): Promise<AppendResult> {
  const [row] = await run(client, context.queries.append, appendValues(prepared, context, json));
  const { firstPosition, firstVersion, idempotent, time } = appendOutcome(row![0] as string);
  if (idempotent) return recordedResult(client, prepared, context, firstVersion);
  return appendResult(prepared, context, firstPosition, firstVersion, time);
}

/** An exact retry's answer: the events the first append recorded, read back. */
export async function recordedResult(
  client: pg.ClientBase,
  prepared: PreparedAppend,
  { queries }: AppendContext,
  firstVersion: bigint,
): Promise<AppendResult> {
  const count = prepared.events.length;
  const rows = await run(client, queries.recorded, [
    prepared.streamId,
    firstVersion.toString(),
    (firstVersion + BigInt(count) - 1n).toString(),
    count,
  ]);
  const events = rows.map((r) => eventFromStreamRow(r, 0, prepared.streamId));
  return { nextExpectedVersion: events.at(-1)!.streamVersion, position: events.at(-1)!.position, idempotent: true, events };
}

/** A new append's answer, built from what was sent and where the function put it. */
export function appendResult(
  prepared: PreparedAppend,
  { source }: AppendContext,
  firstPosition: bigint,
  firstVersion: bigint,
  time: string,
): AppendResult {
  const count = prepared.events.length;
  const events: RecordedEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const event = prepared.events[i]!;
    events[i] = {
      id: event.id,
      type: event.type,
      schemaVersion: event.schemaVersion,
      streamId: prepared.streamId,
      streamVersion: firstVersion + BigInt(i),
      position: firstPosition + BigInt(i),
      time,
      source,
      correlationId: event.correlationId,
      causationId: event.causationId,
      // As given (after schema validation), like the SQLite store: parsing the JSON back costs more than the append's own work.
      data: event.data,
      metadata: event.metadataJson === '{}' ? {} : (event.metadata as EventMetadata),
    };
  }
  return {
    nextExpectedVersion: firstVersion + BigInt(count - 1),
    position: firstPosition + BigInt(count - 1),
    idempotent: false,
    events,
  };
}
