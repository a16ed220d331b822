/**
 * Rows of the `events` table to `RecordedEvent`s, and the `envelope` column's text.
 *
 * Reads cost per column fetched (better-sqlite3 turns each into a JS value, ~0.07 µs each), so the
 * envelope parts most events leave at their defaults — schema version 1, no metadata, correlated
 * to themselves, no cause, the default source — live in one nullable `envelope` column: NULL when
 * all five are defaults, else the JSON array `[schemaVersion, metadata, correlationId,
 * causationId, source]`. It is decoded eagerly: an event with a lazy getter costs more to build
 * than the JSON.parse it would save, and a prototype getter would vanish from spreads and clones.
 */
import { type EventMetadata, type RecordedEvent, type StreamMetadata } from '@eventloom/core';
import { deserializeStreamMetadata } from '@eventloom/core/adapter';
import { corruptFileError } from './sqlite-errors.js';

/** The `source` an event has when its envelope column is NULL: the store's default source. */
export const DEFAULT_SOURCE = 'eventloom';

/** A row of the log as `.raw().safeIntegers()` returns it, in the order of `LOG_COLUMNS`. */
export type LogRow = [
  position: bigint,
  id: string,
  streamId: string,
  streamVersion: bigint,
  type: string,
  data: string,
  time: string,
  envelope: string | null,
];

/** A row of one stream, in the order of `STREAM_COLUMNS`: the stream is the query's, so not fetched. */
export type StreamEventRow = [
  position: bigint,
  id: string,
  streamVersion: bigint,
  type: string,
  data: string,
  time: string,
  envelope: string | null,
];

type Envelope = [schemaVersion: number, metadata: EventMetadata, correlationId: string, causationId: string | null, source: string];

export function decodeLogRow(row: LogRow): RecordedEvent {
  return recorded(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]);
}

export function decodeStreamRow(row: StreamEventRow, streamId: string): RecordedEvent {
  return recorded(row[0], row[1], streamId, row[2], row[3], row[4], row[5], row[6]);
}

// Both branches build the same keys in the same order (JSON.stringify of an event depends on it).
function recorded(
  position: bigint,
  id: string,
  streamId: string,
  version: bigint,
  type: string,
  data: string,
  time: string,
  envelope: string | null,
): RecordedEvent {
  if (envelope === null) {
    return {
      id,
      type,
      schemaVersion: 1,
      streamId,
      streamVersion: version,
      position,
      time,
      source: DEFAULT_SOURCE,
      correlationId: id,
      causationId: null,
      data: JSON.parse(data) as unknown,
      metadata: {},
    };
  }
  const parts = JSON.parse(envelope) as Envelope;
  if (!Array.isArray(parts) || parts.length !== 5) throw new SyntaxError(`the envelope ${envelope.slice(0, 80)} is not [schemaVersion, metadata, correlationId, causationId, source]`);
  return {
    id,
    type,
    schemaVersion: parts[0],
    streamId,
    streamVersion: version,
    position,
    time,
    source: parts[4],
    correlationId: parts[2],
    causationId: parts[3],
    data: JSON.parse(data) as unknown,
    metadata: parts[1],
  };
}

/**
 * The `envelope` column of an event to append: null when every part is its default. `metadataJson`
 * and `sourceJson` are JSON texts already (`sourceJson` is JSON.stringify of the source).
 */
export function envelopeText(
  id: string,
  schemaVersion: number,
  metadataJson: string,
  correlationId: string,
  causationId: string | null,
  source: string,
  sourceJson: string,
): string | null {
  if (schemaVersion === 1 && metadataJson === '{}' && correlationId === id && causationId === null && source === DEFAULT_SOURCE) return null;
  return `[${schemaVersion},${metadataJson},${JSON.stringify(correlationId)},${causationId === null ? 'null' : JSON.stringify(causationId)},${sourceJson}]`;
}

/** A stream's metadata as stored; text that does not parse means the file is damaged. */
export function decodeStreamMetadata(json: string, filename: string, streamId: string): StreamMetadata {
  try {
    return deserializeStreamMetadata(json);
  } catch (error) {
    throw corruptFileError(filename, `decoding the metadata of ${streamId}`, `it does not parse: ${(error as Error).message}`, error);
  }
}
