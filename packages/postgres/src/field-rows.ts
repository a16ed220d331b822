/**
 * Reads limited to some fields (`fields` of a read): the columns they fetch and how a row of them
 * becomes the event. The text protocol carries and node-postgres parses every column of every
 * row, so a read fetches only what its fields need, plus what its paging needs: the position in
 * the log; in a stream the version and the time (`maxAgeSeconds` hides events by time, and the
 * stream's metadata arrives with the first page, after the columns were chosen).
 */
import type { EventField, EventMetadata, SomeFieldsOf } from '@eventloom/core';
import type { FieldSelection } from '@eventloom/core/adapter';
import { DEFAULT_SOURCE } from './options.js';

/** Column of each field; three usual values travel as NULL, as in whole reads (`sql/queries.ts`). */
const COLUMN: Record<EventField, string> = {
  id: 'id',
  type: 'type',
  schemaVersion: 'nullif(schema_version, 1) AS schema_version',
  streamId: 'stream_id',
  streamVersion: 'stream_version',
  position: 'position',
  time: 'time',
  source: `nullif(source, '${DEFAULT_SOURCE}') AS source`,
  correlationId: 'correlation_id',
  causationId: 'causation_id',
  data: 'data',
  metadata: "nullif(metadata, '{}'::jsonb) AS metadata",
};

export type ReadKind = 'log' | 'stream';

export interface FieldPlan {
  /** Identifies the column list within a kind of read (a prepared statement's name part). */
  readonly key: string;
  /** The SELECT list. Logs: position first. Streams: version first, time second. */
  readonly columns: string;
  /** Row (from `offset`) to event with exactly the selection's fields; `streamId` for stream reads. */
  readonly decode: (row: readonly unknown[], offset: number, streamId: string) => SomeFieldsOf;
}

type Part = (row: readonly unknown[], offset: number, streamId: string) => unknown;

/** `compile: false` keeps the plain decoder (tests compare the two). */
export function fieldPlan(selection: FieldSelection, kind: ReadKind, compile = true): FieldPlan {
  const paging: EventField[] = kind === 'log' ? ['position'] : ['streamVersion', 'time'];
  const fetched: EventField[] = [...paging];
  for (const name of selection.names) if (!(kind === 'stream' && name === 'streamId') && !fetched.includes(name)) fetched.push(name);
  const names = selection.names;
  const parts: Part[] = names.map((name) => part(name, fetched.indexOf(name)));
  const decode =
    (compile ? compiled(names, fetched) : undefined) ??
    ((row: readonly unknown[], offset: number, streamId: string): SomeFieldsOf => {
      const event: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) event[names[i]!] = parts[i]!(row, offset, streamId);
      return event as SomeFieldsOf;
    });
  let mask = 0;
  for (const name of fetched) mask |= 1 << FIELD_BITS.indexOf(name);
  return { key: mask.toString(36), columns: fetched.map((name) => COLUMN[name]).join(', '), decode };
}

const FIELD_BITS = Object.keys(COLUMN) as EventField[];

/**
 * The decoder as one object literal, for the fields' keys: every event it makes has one shape
 * from the start, where the loop adds keys one at a time (as in the SQLite store's field-rows.ts).
 * The text holds only names from EVENT_FIELDS and column numbers. Undefined where the process
 * forbids code from strings; the loop serves then.
 */
function compiled(names: readonly EventField[], fetched: readonly EventField[]): FieldPlan['decode'] | undefined {
  const value = (name: EventField): string => {
    const at = fetched.indexOf(name);
    const cell = `row[offset + ${at}]`;
    switch (name) {
      case 'streamId':
        return at === -1 ? 'streamId' : cell;
      case 'schemaVersion':
        return `${cell} ?? 1`;
      case 'source':
        return `${cell} ?? defaultSource`;
      case 'metadata':
        return `${cell} ?? {}`;
      default:
        return cell;
    }
  };
  const body = names.map((name) => `${name}: ${value(name)}`).join(', ');
  try {
    const make = new Function('defaultSource', `return (row, offset, streamId) => ({ ${body} });`) as (source: string) => FieldPlan['decode'];
    return make(DEFAULT_SOURCE);
  } catch {
    return undefined;
  }
}

function part(name: EventField, at: number): Part {
  switch (name) {
    case 'streamId':
      if (at === -1) return (_row, _offset, streamId) => streamId;
      return (row, offset) => row[offset + at];
    case 'schemaVersion':
      return (row, offset) => (row[offset + at] as number | null) ?? 1;
    case 'source':
      return (row, offset) => (row[offset + at] as string | null) ?? DEFAULT_SOURCE;
    case 'metadata':
      return (row, offset) => (row[offset + at] as EventMetadata | null) ?? {};
    default:
      return (row, offset) => row[offset + at];
  }
}
