/** Rows of `events` as recorded events, parsed once per value with the cheapest parser that is exact. */
import type { EventMetadata, RecordedEvent } from '@eventloom/core';
import pg from 'pg';
import { DEFAULT_SOURCE } from './options.js';

const INT8 = 20;
const TIMESTAMPTZ = 1184;
const JSONB = 3802;

/** Most events carry no metadata: an object made for `{}` costs a tenth of parsing it. */
function parseJsonb(value: string): unknown {
  return value === '{}' ? {} : JSON.parse(value);
}

/**
 * `bigint` as BigInt (positions pass 2^53), `timestamptz` as the ISO string it was written from,
 * `jsonb` through JSON.parse (its own parser, whatever another library set as pg's global one).
 * Everything else as node-postgres parses it.
 */
export const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return (value: string) => BigInt(value);
    if (oid === TIMESTAMPTZ) return isoFromPg;
    if (oid === JSONB && format !== 'binary') return parseJsonb;
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
} as unknown as pg.CustomTypesConfig;

/**
 * `2024-05-01 10:11:12.3+00` (sessions run in UTC) → `2024-05-01T10:11:12.300Z`. Other forms, which
 * only a session outside UTC would give, go through Date.
 */
export function isoFromPg(value: string): string {
  // The events of one append share their time, and are read one after another.
  if (value === lastPgTime) return lastIsoTime;
  const length = value.length;
  let iso: string;
  if (length >= 22 && value.endsWith('+00') && value.charCodeAt(10) === 32) {
    const seconds = value.slice(11, 19);
    let fraction = length > 22 ? value.slice(20, length - 3) : '';
    if (fraction.length < 3) fraction = fraction.padEnd(3, '0');
    else if (fraction.length > 3) fraction = fraction.slice(0, 3);
    iso = `${value.slice(0, 10)}T${seconds}.${fraction}Z`;
  } else {
    iso = new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
  }
  lastPgTime = value;
  lastIsoTime = iso;
  return iso;
}

let lastPgTime = '';
let lastIsoTime = '';

/** A row in `EVENT_COLUMNS` order (`sql/queries.ts`), from `offset`; NULL stands for the usual value of three. */
export type EventRow = readonly unknown[];

/** A row in `STREAM_EVENT_COLUMNS` order (no stream id: it is the one asked for), from `offset`. */
export function eventFromStreamRow(row: EventRow, offset: number, streamId: string): RecordedEvent {
  return {
    id: row[offset + 1] as string,
    type: row[offset + 3] as string,
    schemaVersion: (row[offset + 4] as number | null) ?? 1,
    streamId,
    streamVersion: row[offset + 2] as bigint,
    position: row[offset] as bigint,
    time: row[offset + 9] as string,
    source: (row[offset + 10] as string | null) ?? DEFAULT_SOURCE,
    correlationId: row[offset + 7] as string,
    causationId: row[offset + 8] as string | null,
    data: row[offset + 5],
    metadata: (row[offset + 6] as EventMetadata | null) ?? {},
  };
}

export function eventFromRow(row: EventRow, offset = 0): RecordedEvent {
  return {
    id: row[offset + 1] as string,
    type: row[offset + 4] as string,
    schemaVersion: (row[offset + 5] as number | null) ?? 1,
    streamId: row[offset + 2] as string,
    streamVersion: row[offset + 3] as bigint,
    position: row[offset] as bigint,
    time: row[offset + 10] as string,
    source: (row[offset + 11] as string | null) ?? DEFAULT_SOURCE,
    correlationId: row[offset + 8] as string,
    causationId: row[offset + 9] as string | null,
    data: row[offset + 6],
    metadata: (row[offset + 7] as EventMetadata | null) ?? {},
  };
}
