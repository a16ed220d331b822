/**
 * The one rule of every time-based query (`loadState({ asOf })`, `replayTimeRange`): an event
 * counts by its recorded time alone, wherever it stands in the stream or the log. Stores record
 * times that never go backwards within a stream, so within a stream the events up to an instant
 * are always a prefix; the rule still holds for events recorded before that guarantee.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';

/** `value` as the ISO 8601 UTC form recorded times have, which compares correctly as a string. */
export function toInstant(value: Date | string, argument: string): string {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(argument, `must be a valid Date or ISO 8601 string, got ${describeValue(value)}`);
  }
  return date.toISOString();
}

/** Recorded at or before `instant`: what "as of" an instant includes. */
export function recordedBy(time: string, instant: string): boolean {
  return time <= instant;
}

/** Recorded in `[from, to)`; an absent bound is open. */
export function recordedWithin(time: string, from: string | undefined, to: string | undefined): boolean {
  return (from === undefined || time >= from) && (to === undefined || time < to);
}
