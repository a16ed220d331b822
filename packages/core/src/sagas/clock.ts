/**
 * Time as sagas and timers see it. Production uses the system clock; tests use a `VirtualClock`
 * they move by hand, so a "15 minutes" deadline fires in a test without waiting 15 minutes.
 */
import { InvalidArgumentError } from '../envelope/errors.js';
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until `advance` or `set` moves it. */
export class VirtualClock implements Clock {
  #now: number;

  constructor(start: Date | string | number = '2026-01-01T00:00:00.000Z') {
    this.#now = new Date(start).getTime();
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new InvalidArgumentError('ms', `VirtualClock.advance needs a duration >= 0, got ${ms}`);
    this.#now += ms;
  }

  set(time: Date | string | number): void {
    this.#now = new Date(time).getTime();
  }
}

export function isoTime(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
