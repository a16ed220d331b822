/**
 * Reads limited to some fields (`fields` of a read): which columns they fetch and how a row of
 * those columns becomes the event. Every column fetched costs about 0.07 µs per row in
 * better-sqlite3, so a read fetches only what its fields need, plus the column its paging moves
 * by (the position in the log, the version in a stream). The five envelope parts all come from the
 * one `envelope` column; `correlationId` also needs `id`, which it defaults to when that is NULL.
 */
import type { EventField, EventMetadata, SomeFieldsOf } from '@eventloom/core';
import type { FieldSelection } from '@eventloom/core/adapter';
import { DEFAULT_SOURCE } from './event-row.js';

export type FieldRow = readonly unknown[];

/** The five envelope parts as stored, or null for the defaults (`event-row.ts`). */
type Envelope = readonly [schemaVersion: number, metadata: EventMetadata, correlationId: string, causationId: string | null, source: string];

export interface FieldPlan {
  /** Identifies the column list among plans of the same kind of read. */
  readonly key: string;
  /** The SELECT list, paging column first. */
  readonly columns: string;
  /** Row to event with exactly the selection's fields; `streamId` is a stream read's stream. */
  readonly decode: (row: FieldRow, streamId: string) => SomeFieldsOf;
}

/** Where a read's rows come from: the log (every column) or one stream (its id is the query's). */
export type ReadKind = 'log' | 'stream';

type Part = (row: FieldRow, envelope: Envelope | null, streamId: string) => unknown;

const ENVELOPE_PARTS = new Set<EventField>(['schemaVersion', 'source', 'correlationId', 'causationId', 'metadata']);

/** The plan for `selection` on a read of `kind`. `compile: false` keeps the plain decoder (tests compare the two). */
export function fieldPlan(selection: FieldSelection, kind: ReadKind, compile = true): FieldPlan {
  // The paging column comes first, whether or not it is asked for.
  const columns: string[] = [kind === 'log' ? 'position' : 'stream_version'];
  const indexOf = (column: string): number => {
    let index = columns.indexOf(column);
    if (index === -1) index = columns.push(column) - 1;
    return index;
  };
  const needsEnvelope = selection.names.some((name) => ENVELOPE_PARTS.has(name));
  const envelopeAt = needsEnvelope ? indexOf('envelope') : -1;
  const parts: Part[] = selection.names.map((name) => part(name, kind, indexOf));
  const names = selection.names;
  const decode =
    (compile ? compiled(names, kind, indexOf, envelopeAt) : undefined) ??
    ((row: FieldRow, streamId: string): SomeFieldsOf => {
      const envelope = envelopeAt === -1 ? null : envelopeOf(row[envelopeAt] as string | null);
      const event: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) event[names[i]!] = parts[i]!(row, envelope, streamId);
      return event as SomeFieldsOf;
    });
  return { key: columns.join(','), columns: columns.join(', '), decode };
}

/**
 * The decoder as one object literal, for the fields' keys: every event it makes has one shape
 * from the start, where the loop above adds keys one at a time and calls a closure per field
 * (decoding alone, payload `{"total":1}`, medians of alternating rounds: 0.32 → 0.20 µs per row
 * for W6's fields, 0.54 → 0.31 µs for loadState's; the first round also cheaper). The
 * text holds only names from EVENT_FIELDS and column numbers. Undefined where the process
 * forbids code from strings; the loop serves then.
 */
function compiled(
  names: readonly EventField[],
  kind: ReadKind,
  indexOf: (column: string) => number,
  envelopeAt: number,
): FieldPlan['decode'] | undefined {
  const at = (column: string): string => `row[${indexOf(column)}]`;
  const value = (name: EventField): string => {
    switch (name) {
      case 'id':
        return at('id');
      case 'type':
        return at('type');
      case 'streamId':
        return kind === 'stream' ? 'streamId' : at('stream_id');
      case 'streamVersion':
        return at('stream_version');
      case 'position':
        return at('position');
      case 'time':
        return at('time');
      case 'data':
        return `JSON.parse(${at('data')})`;
      case 'schemaVersion':
        return 'e === null ? 1 : e[0]';
      case 'metadata':
        return 'e === null ? {} : e[1]';
      case 'correlationId':
        return `e === null ? ${at('id')} : e[2]`;
      case 'causationId':
        return 'e === null ? null : e[3]';
      case 'source':
        return 'e === null ? defaultSource : e[4]';
    }
  };
  const body = names.map((name) => `${name}: ${value(name)}`).join(', ');
  const envelope = envelopeAt === -1 ? '' : `const e = envelopeOf(row[${envelopeAt}]);`;
  try {
    const make = new Function('envelopeOf', 'defaultSource', `return (row, streamId) => { ${envelope} return { ${body} }; };`) as (
      envelope: typeof envelopeOf,
      source: string,
    ) => FieldPlan['decode'];
    return make(envelopeOf, DEFAULT_SOURCE);
  } catch {
    return undefined;
  }
}

function part(name: EventField, kind: ReadKind, indexOf: (column: string) => number): Part {
  switch (name) {
    case 'id': {
      const at = indexOf('id');
      return (row) => row[at];
    }
    case 'type': {
      const at = indexOf('type');
      return (row) => row[at];
    }
    case 'streamId': {
      if (kind === 'stream') return (_row, _envelope, streamId) => streamId;
      const at = indexOf('stream_id');
      return (row) => row[at];
    }
    case 'streamVersion': {
      const at = indexOf('stream_version');
      return (row) => row[at];
    }
    case 'position': {
      const at = indexOf('position');
      return (row) => row[at];
    }
    case 'time': {
      const at = indexOf('time');
      return (row) => row[at];
    }
    case 'data': {
      const at = indexOf('data');
      return (row) => JSON.parse(row[at] as string) as unknown;
    }
    case 'schemaVersion':
      return (_row, envelope) => (envelope === null ? 1 : envelope[0]);
    case 'metadata':
      return (_row, envelope) => (envelope === null ? {} : envelope[1]);
    case 'correlationId': {
      const at = indexOf('id');
      return (row, envelope) => (envelope === null ? row[at] : envelope[2]);
    }
    case 'causationId':
      return (_row, envelope) => (envelope === null ? null : envelope[3]);
    case 'source':
      return (_row, envelope) => (envelope === null ? DEFAULT_SOURCE : envelope[4]);
  }
}

/** The `envelope` column decoded, with the same check as a whole read's (a SyntaxError means a damaged file). */
function envelopeOf(text: string | null): Envelope | null {
  if (text === null) return null;
  const parts = JSON.parse(text) as Envelope;
  if (!Array.isArray(parts) || parts.length !== 5) throw new SyntaxError(`the envelope ${text.slice(0, 80)} is not [schemaVersion, metadata, correlationId, causationId, source]`);
  return parts;
}
