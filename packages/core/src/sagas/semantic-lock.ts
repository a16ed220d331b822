/**
 * Semantic locks: a resource marked PENDING/RESERVED/AUTHORIZED by one owner (a saga) and refused
 * to others until that owner releases it or the lock expires. Each lock is a stream
 * `lock-<resource>`; acquiring and releasing append at the version read, so two owners racing for
 * one resource cannot both win.
 */
import { InvalidArgumentError, isEventloomError, ResourceLockedError } from '../envelope/errors.js';
import type { Event } from '../envelope/event.js';
import { MAX_STREAM_ID_LENGTH } from '../envelope/stream-id.js';
import { collect } from '../event-store/collect.js';
import type { EventStore } from '../event-store/event-store.js';
import { systemClock, type Clock } from './clock.js';

export type LockEvent =
  | Event<'LockAcquired', { readonly owner: string; readonly state: string; readonly expiresAt: string | null }>
  | Event<'LockReleased', { readonly owner: string }>;

export interface LockInfo {
  readonly resource: string;
  readonly owner: string;
  /** e.g. `PENDING_PAYMENT`, `RESERVED`, `AUTHORIZED`. */
  readonly state: string;
  readonly acquiredAt: string;
  readonly expiresAt: string | null;
}

export interface AcquireOptions {
  /** Default `PENDING`. */
  readonly state?: string;
  /** The lock lapses after this long unless acquired again (renewed) by its owner. Default: never. */
  readonly ttlMs?: number;
}

export class SemanticLocks {
  readonly #store: EventStore;
  readonly #clock: Clock;

  constructor(options: { readonly store: EventStore; readonly clock?: Clock }) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Takes `resource` for `owner` in `state`. The owner may call it again to change the state or
   * renew the expiry. Throws `ResourceLockedError` while another owner holds it unexpired.
   */
  async acquire(resource: string, owner: string, options: AcquireOptions = {}): Promise<LockInfo> {
    checkResource(resource);
    if (typeof owner !== 'string' || owner.length === 0) throw new InvalidArgumentError('owner', 'must be a non-empty string');
    const state = options.state ?? 'PENDING';
    for (;;) {
      const { holder, version } = await this.#read(resource);
      if (holder !== null && holder.owner !== owner) throw new ResourceLockedError(resource, holder.owner, holder.state, holder.expiresAt);
      const expiresAt = options.ttlMs === undefined ? null : new Date(this.#clock.now() + options.ttlMs).toISOString();
      try {
        await this.#store.appendToStream<LockEvent>(`lock-${resource}`, [{ type: 'LockAcquired', data: { owner, state, expiresAt } }], { expectedVersion: version });
        return { resource, owner, state, acquiredAt: new Date(this.#clock.now()).toISOString(), expiresAt };
      } catch (error) {
        // Someone moved the lock between the read and the append: read again and decide again.
        if (!(isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION')) throw error;
      }
    }
  }

  /** Gives the resource up; false when `owner` did not hold it (released before, expired, or another's). Idempotent. */
  async release(resource: string, owner: string): Promise<boolean> {
    checkResource(resource);
    for (;;) {
      const { holder, version } = await this.#read(resource);
      if (holder === null || holder.owner !== owner) return false;
      try {
        await this.#store.appendToStream<LockEvent>(`lock-${resource}`, [{ type: 'LockReleased', data: { owner } }], { expectedVersion: version });
        return true;
      } catch (error) {
        if (!(isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION')) throw error;
      }
    }
  }

  /** Who holds `resource` now (expired locks count as free); `null` when free. */
  async holder(resource: string): Promise<LockInfo | null> {
    checkResource(resource);
    return (await this.#read(resource)).holder;
  }

  async #read(resource: string): Promise<{ holder: LockInfo | null; version: bigint }> {
    const events = await collect(this.#store.readStream<LockEvent>(`lock-${resource}`));
    let holder = null as LockInfo | null;
    for (const event of events) {
      const previous: LockInfo | null = holder;
      if (event.type === 'LockAcquired') {
        const acquiredAt = previous !== null && previous.owner === event.data.owner ? previous.acquiredAt : event.time;
        holder = { resource, owner: event.data.owner, state: event.data.state, acquiredAt, expiresAt: event.data.expiresAt };
      } else if (event.type === 'LockReleased' && previous !== null && previous.owner === event.data.owner) holder = null;
    }
    if (holder?.expiresAt != null && Date.parse(holder.expiresAt) <= this.#clock.now()) holder = null;
    return { holder, version: events.at(-1)?.streamVersion ?? 0n };
  }
}

function checkResource(resource: unknown): asserts resource is string {
  if (typeof resource !== 'string' || resource.length === 0) throw new InvalidArgumentError('resource', 'must be a non-empty string');
  if (resource.length + 'lock-'.length > MAX_STREAM_ID_LENGTH) throw new InvalidArgumentError('resource', `is longer than ${MAX_STREAM_ID_LENGTH - 5} characters`);
}
