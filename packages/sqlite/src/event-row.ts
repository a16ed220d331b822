/** Turns a raw row of `EVENT_COLUMNS` into a `RecordedEvent`. */
import { type EventMetadata, type RecordedEvent, type StreamMetadata } from '@eventloom/core';
import { deserializeStreamMetadata } from '@eventloom/core/adapter';
import { corruptFileError } from './sqlite-errors.js';

/** A row as `.raw()` returns it, in the order of `EVENT_COLUMNS`. */
export type EventRow = [
  position: number | bigint,
  id: string,
  streamId: string,
  streamVersion: number | bigint,
  type: string,
  schemaVersion: number,
  data: string,
  metadata: string,
  correlationId: string,
  causationId: string | null,
  time: string,
  source: string,
];

export function decodeEvent(row: EventRow): RecordedEvent {
  const metadata = row[7];
  return {
    id: row[1],
    type: row[4],
    schemaVersion: row[5],
    streamId: row[2],
    streamVersion: BigInt(row[3]),
    position: BigInt(row[0]),
    time: row[10],
    source: row[11],
    correlationId: row[8],
    causationId: row[9],
    data: JSON.parse(row[6]) as unknown,
    // Most events carry no metadata; skip the parser for them.
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata) as EventMetadata),
  };
}

/** A stream's metadata as stored; text that does not parse means the file is damaged. */
export function decodeStreamMetadata(json: string, filename: string, streamId: string): StreamMetadata {
  try {
    return deserializeStreamMetadata(json);
  } catch (error) {
    throw corruptFileError(filename, `decoding the metadata of ${streamId}`, `it does not parse: ${(error as Error).message}`, error);
  }
}
