/**
 * Class-based aggregates, as in the seed's `Order`: methods check invariants and `raise` events,
 * `apply` changes state. `aggregateDecider` lets the same command handler serve them as deciders.
 */
import type { Command } from '../envelope/command.js';
import type { Decider } from './decider.js';
import type { Event, StreamVersion } from '../envelope/event.js';

export abstract class AggregateRoot<E extends Event> {
  #version: StreamVersion = 0n;
  #pending: E[] = [];

  /** Version of the last recorded event applied to this instance. */
  get version(): StreamVersion {
    return this.#version;
  }

  /** Changes state for one event. Must ignore event types it does not know. */
  protected abstract apply(event: E): void;

  /** Records a new event: applies it now, and keeps it until the command handler appends it. */
  protected raise(event: E): void {
    this.apply(event);
    this.#pending.push(event);
  }

  /** Events raised since the last `takePendingEvents`, in order; clears them. */
  takePendingEvents(): E[] {
    const pending = this.#pending;
    this.#pending = [];
    return pending;
  }

  /** Events raised and not yet taken. */
  get pendingEvents(): readonly E[] {
    return this.#pending;
  }

  /**
   * Brings a recorded event into the aggregate. Events this instance raised itself were applied
   * when raised; when they come back recorded (in the same order) they are not applied twice.
   */
  applyRecorded(event: E, version: StreamVersion = this.#version + 1n): void {
    if (this.#appliedAhead > 0) this.#appliedAhead--;
    else this.apply(event);
    this.#version = version;
  }

  #appliedAhead = 0;

  /**
   * Called when the aggregate is restored from a snapshot taken at `version` (its `fromSnapshot`
   * rebuilds the fields; the version is the loader's to set).
   */
  restoreVersion(version: StreamVersion): void {
    this.#version = version;
  }

  /** Called by `aggregateDecider` for events taken to be appended: they are applied already. */
  markTakenAsApplied(count: number): void {
    this.#appliedAhead += count;
  }
}

/**
 * Serves a class aggregate through the decider-based command handler. `execute` calls the
 * aggregate's methods for a command; whatever they raise becomes the command's events. With
 * snapshots, the policy must say how the aggregate becomes JSON and back (`toSnapshot`,
 * `fromSnapshot`): the types ask for both, and the handler refuses a policy without them.
 *
 * @example
 * const orders = aggregateDecider(() => new Order(), (order, command: OrderCommand) => {
 *   if (command.type === 'PayOrder') order.pay(command.data.amount);
 * });
 */
export function aggregateDecider<A extends AggregateRoot<E>, E extends Event, C extends Command>(
  create: () => A,
  execute: (aggregate: A, command: C) => void,
): Decider<C, E, A> {
  return {
    initialState: create,
    evolve(aggregate, event) {
      const version = (event as { streamVersion?: StreamVersion }).streamVersion;
      aggregate.applyRecorded(event, version);
      return aggregate;
    },
    decide(command, aggregate) {
      execute(aggregate, command);
      const events = aggregate.takePendingEvents();
      aggregate.markTakenAsApplied(events.length);
      return events;
    },
  };
}
