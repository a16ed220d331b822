/**
 * Durable timers: "cancel the order if it is not paid in 15 minutes". Each timer is a stream
 * `timer-<id>` (scheduled, rescheduled, cancelled, fired), so timers live in whatever store the
 * application uses and survive restarts. A timer fires after its due time: the handler runs, then
 * `TimerFired` is appended at the version the handler saw — a timer cancelled or rescheduled
 * meanwhile is not marked, and a handler is told a `fireKey` (stable per schedule) so that a
 * firing repeated after a crash between the two acts once.
 */
import { InvalidArgumentError, isEventloomError } from '../envelope/errors.js';
import type { Event, JsonValue, Position, RecordedEvent } from '../envelope/event.js';
import { MAX_STREAM_ID_LENGTH } from '../envelope/stream-id.js';
import type { EventStore } from '../event-store/event-store.js';
import { systemClock, type Clock } from './clock.js';
import { derivedId } from './idempotency.js';

export type TimerEvent =
  | Event<'TimerScheduled', { readonly dueAt: string; readonly payload: JsonValue; readonly generation: number }>
  | Event<'TimerRescheduled', { readonly dueAt: string; readonly generation: number }>
  | Event<'TimerCancelled', { readonly generation: number }>
  | Event<'TimerFired', { readonly generation: number; readonly firedAt: string }>;

export type TimerState = 'scheduled' | 'cancelled' | 'fired';

export interface TimerInfo {
  readonly id: string;
  readonly state: TimerState;
  readonly dueAt: string;
  readonly payload: JsonValue;
  /** Bumped by each schedule and reschedule: a firing belongs to one generation. */
  readonly generation: number;
  readonly correlationId: string;
  readonly firedAt: string | null;
  readonly version: bigint;
}

export interface DueTimer extends TimerInfo {
  /** Stable for this timer's current schedule: the handler's idempotency key. */
  readonly fireKey: string;
}

export interface TimerServiceOptions {
  readonly store: EventStore;
  /** Runs when a timer is due; throwing leaves it scheduled, to be tried on the next tick. */
  readonly onFire: (timer: DueTimer) => Promise<void> | void;
  readonly clock?: Clock;
  /** How often `start()` looks for due timers. Default 100 ms. */
  readonly pollIntervalMs?: number;
  readonly logger?: { warn(message: string, ...details: unknown[]): void } | false;
}

export type TimerDue = { readonly dueAt: Date | string } | { readonly delayMs: number };

export class TimerService {
  readonly #store: EventStore;
  readonly #clock: Clock;
  readonly #options: TimerServiceOptions;
  readonly #timers = new Map<string, TimerInfo>();
  #seen: Position = 0n;
  #loop: Promise<void> | null = null;
  #stopping = false;
  #wake: (() => void) | null = null;
  #firing: Promise<number> | null = null;

  constructor(options: TimerServiceOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
  }

  /** Schedules timer `id` (a new timer, or a cancelled/fired one again); it fires once, after its due time. */
  async schedule(id: string, due: TimerDue, payload: JsonValue = null, options: { readonly correlationId?: string } = {}): Promise<TimerInfo> {
    checkTimerId(id);
    const dueAt = this.#dueAt(due);
    const current = await this.get(id);
    if (current?.state === 'scheduled') throw new InvalidArgumentError('id', `timer ${id} is already scheduled (due ${current.dueAt}); reschedule or cancel it`);
    const generation = (current?.generation ?? 0) + 1;
    await this.#append(id, current?.version ?? 0n, { type: 'TimerScheduled', data: { dueAt, payload, generation }, ...(options.correlationId ? { correlationId: options.correlationId } : {}) });
    return (await this.get(id))!;
  }

  /** Moves a scheduled timer's due time; false when it is not scheduled (fired or cancelled). */
  async reschedule(id: string, due: TimerDue): Promise<boolean> {
    checkTimerId(id);
    const current = await this.get(id);
    if (current?.state !== 'scheduled') return false;
    return this.#tryAppend(id, current, { type: 'TimerRescheduled', data: { dueAt: this.#dueAt(due), generation: current.generation + 1 } });
  }

  /** Cancels a scheduled timer; false when it had fired, was cancelled, or never existed. */
  async cancel(id: string): Promise<boolean> {
    checkTimerId(id);
    const current = await this.get(id);
    if (current?.state !== 'scheduled') return false;
    return this.#tryAppend(id, current, { type: 'TimerCancelled', data: { generation: current.generation } });
  }

  async get(id: string): Promise<TimerInfo | null> {
    checkTimerId(id);
    await this.#refresh();
    return this.#timers.get(id) ?? null;
  }

  /** Timers known to the store, soonest first; `state` narrows them. */
  async list(filter: { readonly state?: TimerState } = {}): Promise<readonly TimerInfo[]> {
    await this.#refresh();
    return [...this.#timers.values()].filter((t) => filter.state === undefined || t.state === filter.state).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  }

  /** Fires every timer due by the clock now; returns how many fired. Tests call it after moving a virtual clock. */
  async fireDue(): Promise<number> {
    // One firing pass at a time in this process, so a timer is never handed to two handlers here.
    while (this.#firing !== null) await this.#firing.catch(() => undefined);
    this.#firing = this.#fireDue();
    try {
      return await this.#firing;
    } finally {
      this.#firing = null;
    }
  }

  /** Fires due timers every `pollIntervalMs` until `stop()`. */
  start(): void {
    if (this.#loop !== null) return;
    this.#stopping = false;
    this.#loop = (async () => {
      while (!this.#stopping) {
        try {
          await this.fireDue();
        } catch (error) {
          this.#warn('timers: firing failed, trying again', error);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#options.pollIntervalMs ?? 100);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
  }

  async #fireDue(): Promise<number> {
    await this.#refresh();
    const now = new Date(this.#clock.now()).toISOString();
    const due = [...this.#timers.values()].filter((t) => t.state === 'scheduled' && t.dueAt <= now).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
    let fired = 0;
    for (const timer of due) {
      const fireKey = derivedId(`timer:${timer.id}:${timer.generation}`);
      try {
        await this.#options.onFire({ ...timer, fireKey });
      } catch (error) {
        this.#warn(`timers: handler failed for ${timer.id}; it stays scheduled`, error);
        continue;
      }
      if (await this.#tryAppend(timer.id, timer, { type: 'TimerFired', data: { generation: timer.generation, firedAt: now } })) fired++;
    }
    return fired;
  }

  #warn(message: string, error: unknown): void {
    if (this.#options.logger !== false) (this.#options.logger ?? console).warn(message, error);
  }

  #dueAt(due: TimerDue): string {
    const time = 'delayMs' in due ? this.#clock.now() + due.delayMs : new Date(due.dueAt).getTime();
    if (!Number.isFinite(time)) throw new InvalidArgumentError('due', 'needs a valid dueAt or a finite delayMs');
    return new Date(time).toISOString();
  }

  async #append(id: string, version: bigint, event: TimerEvent & { correlationId?: string }): Promise<void> {
    await this.#store.appendToStream<TimerEvent>(`timer-${id}`, [event], { expectedVersion: version });
    await this.#refresh();
  }

  /** Appends at the version seen; false when someone else moved the timer first. */
  async #tryAppend(id: string, seen: TimerInfo, event: TimerEvent): Promise<boolean> {
    try {
      await this.#append(id, seen.version, event);
      return true;
    } catch (error) {
      if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') {
        await this.#refresh();
        return false;
      }
      throw error;
    }
  }

  /** Reads timer events appended since the last look (by any process) into the index. */
  async #refresh(): Promise<void> {
    for await (const event of this.#store.readCategory<TimerEvent>('timer', { fromPosition: this.#seen + 1n })) {
      this.#seen = event.position;
      this.#apply(event);
    }
  }

  #apply(event: RecordedEvent<TimerEvent>): void {
    const id = event.streamId.slice('timer-'.length);
    const current = this.#timers.get(id);
    const base = { version: event.streamVersion };
    switch (event.type) {
      case 'TimerScheduled':
        this.#timers.set(id, { id, state: 'scheduled', dueAt: event.data.dueAt, payload: event.data.payload, generation: event.data.generation, correlationId: event.correlationId, firedAt: null, ...base });
        break;
      case 'TimerRescheduled':
        if (current) this.#timers.set(id, { ...current, dueAt: event.data.dueAt, generation: event.data.generation, ...base });
        break;
      case 'TimerCancelled':
        if (current) this.#timers.set(id, { ...current, state: 'cancelled', ...base });
        break;
      case 'TimerFired':
        if (current) this.#timers.set(id, { ...current, state: 'fired', firedAt: event.data.firedAt, ...base });
        break;
      default:
        if (current) this.#timers.set(id, { ...current, ...base });
    }
  }
}

function checkTimerId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('id', 'must be a non-empty string');
  if (id.length + 'timer-'.length > MAX_STREAM_ID_LENGTH) throw new InvalidArgumentError('id', `is longer than ${MAX_STREAM_ID_LENGTH - 6} characters`);
}
