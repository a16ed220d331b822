/**
 * Leases in the store: how one process at a time holds a named subscription or a consumer
 * group's partition. A lease has a holder, an end time and an epoch; the epoch grows each time
 * the lease changes hands, and a checkpoint is written only under the epoch its writer holds, so
 * a process that lost its lease (paused, partitioned, too slow) can never move a checkpoint,
 * and a checkpoint never moves backwards.
 */
import type { Position } from '../envelope/event.js';

export interface LeaseInfo {
  readonly name: string;
  readonly holder: string;
  readonly epoch: bigint;
}

/** What a store supplies for leases; the rules (who stands by, who takes over) are core's. */
export interface LeaseStore {
  /**
   * Takes or renews lease `name` for `holder` for `ttlMs`: granted when it is free, has run out,
   * or is already `holder`'s. Returns the epoch it is held under, or null when another holder has it.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<bigint | null>;
  /** Ends `holder`'s lease now (no-op when it holds none), so a standby can take over at once. */
  release(name: string, holder: string): Promise<void>;
  /** Leases not run out whose name starts with `prefix`. */
  list(prefix: string): Promise<readonly LeaseInfo[]>;
  /**
   * Stores the checkpoint of `subscriptionId` only while `lease` is held by its holder under its
   * epoch, and never lower than it was. False when fenced off (another holder took the lease).
   */
  storeCheckpoint(lease: LeaseInfo, subscriptionId: string, position: Position): Promise<boolean>;
  /** The current holder of `name`, or null when it is free or ran out. */
  holder(name: string): Promise<string | null>;
}

/** Leases of one in-memory store (its members live in one process). */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, { holder: string; epoch: bigint; until: number }>();

  constructor(
    private readonly checkpoints: Map<string, Position>,
    private readonly assertOpen: () => void = () => undefined,
  ) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<bigint | null> {
    this.assertOpen();
    const now = Date.now();
    const lease = this.#leases.get(name);
    if (lease && lease.holder !== holder && lease.until > now) return null;
    const epoch = lease === undefined ? 1n : lease.holder === holder ? lease.epoch : lease.epoch + 1n;
    this.#leases.set(name, { holder, epoch, until: now + ttlMs });
    return epoch;
  }

  async release(name: string, holder: string): Promise<void> {
    const lease = this.#leases.get(name);
    if (lease?.holder === holder) lease.until = 0;
  }

  async list(prefix: string): Promise<readonly LeaseInfo[]> {
    this.assertOpen();
    const now = Date.now();
    return [...this.#leases]
      .filter(([name, lease]) => name.startsWith(prefix) && lease.until > now)
      .map(([name, lease]) => ({ name, holder: lease.holder, epoch: lease.epoch }));
  }

  async holder(name: string): Promise<string | null> {
    const lease = this.#leases.get(name);
    return lease && lease.until > Date.now() ? lease.holder : null;
  }

  async storeCheckpoint(lease: LeaseInfo, subscriptionId: string, position: Position): Promise<boolean> {
    this.assertOpen();
    const held = this.#leases.get(lease.name);
    if (!held || held.holder !== lease.holder || held.epoch !== lease.epoch) return false;
    const stored = this.checkpoints.get(subscriptionId);
    if (stored === undefined || position > stored) this.checkpoints.set(subscriptionId, position);
    return true;
  }
}
