/**
 * Narrow reads: the caller names the fields it uses, and a store fetches and decodes only those.
 * Every store yields the same thing for the same names (exactly those own keys, in the order of
 * the full event, with the values a full read gives), so the rule and the picking live here.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { Event, RecordedEvent } from '../envelope/event.js';

/** The fields of a recorded event, in the order a full read builds them. */
export const EVENT_FIELDS = [
  'id',
  'type',
  'schemaVersion',
  'streamId',
  'streamVersion',
  'position',
  'time',
  'source',
  'correlationId',
  'causationId',
  'data',
  'metadata',
] as const;

/** A field of `RecordedEvent` a read can be limited to. */
export type EventField = (typeof EVENT_FIELDS)[number];

// Fails to compile when RecordedEvent gains or loses a field the list above does not know of.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const fieldsAreTheEnvelope: Same<EventField, keyof RecordedEvent> = true;
void fieldsAreTheEnvelope;

/**
 * What a read limited to `F` yields: for each member of the event union, only those fields. The
 * union stays discriminated, so `event.type === 'OrderPaid'` still narrows `event.data`.
 */
export type PartialEvent<E extends Event = Event, F extends EventField = EventField> = E extends Event
  ? Pick<RecordedEvent<E>, F>
  : never;

/** A read whose `fields` are only known at run time: any of them may be absent. */
export type SomeFieldsOf<E extends Event = Event> = E extends Event ? Partial<RecordedEvent<E>> : never;

/** A checked `fields` option. */
export interface FieldSelection {
  /** The fields asked for, without repeats, in `EVENT_FIELDS` order. */
  readonly names: readonly EventField[];
  /** Bit `i` set when `EVENT_FIELDS[i]` is asked for: a key for caches of statements and decoders. */
  readonly mask: number;
  has(field: EventField): boolean;
  /** The event with only the asked-for fields, as own keys in the order of the full event. */
  pick(event: RecordedEvent): SomeFieldsOf;
}

const BIT = new Map<string, number>(EVENT_FIELDS.map((name, i) => [name, 1 << i]));
const selections = new Map<number, FieldSelection>();

/**
 * The `fields` option checked: undefined when absent (a full read). Unknown names, anything but
 * an array, and an empty array are refused: an empty list could mean "nothing" or "everything".
 */
export function normalizeFields(fields: unknown): FieldSelection | undefined {
  if (fields === undefined) return undefined;
  if (!Array.isArray(fields)) {
    throw new InvalidArgumentError('fields', `must be an array of event fields (${EVENT_FIELDS.join(', ')}), got ${describeValue(fields)}`);
  }
  if (fields.length === 0) {
    throw new InvalidArgumentError('fields', `is empty; list at least one of ${EVENT_FIELDS.join(', ')}, or leave it out to read whole events`);
  }
  let mask = 0;
  for (const field of fields as unknown[]) {
    const bit = typeof field === 'string' ? BIT.get(field) : undefined;
    if (bit === undefined) {
      throw new InvalidArgumentError('fields', `holds ${describeValue(field)}, which is not an event field; the fields are ${EVENT_FIELDS.join(', ')}`);
    }
    mask |= bit;
  }
  return selectionOf(mask);
}

/** The selection of a mask; there are at most 4095 and each is small, so they are all kept. */
function selectionOf(mask: number): FieldSelection {
  let selection = selections.get(mask);
  if (!selection) {
    const names = EVENT_FIELDS.filter((name) => (mask & BIT.get(name)!) !== 0);
    selection = Object.freeze({
      names: Object.freeze(names),
      mask,
      has: (field: EventField) => (mask & BIT.get(field)!) !== 0,
      pick: (event: RecordedEvent): SomeFieldsOf => {
        const picked: Record<string, unknown> = {};
        for (const name of names) picked[name] = event[name];
        return picked as SomeFieldsOf;
      },
    });
    selections.set(mask, selection);
  }
  return selection;
}
