/** The decider: the centre of a write model — pure functions from command and state to events. */
import type { Command } from '../envelope/command.js';
import type { Event } from '../envelope/event.js';

/**
 * `decide` turns a command and the current state into new events (or throws a domain error);
 * `evolve` folds one event into the state; `initialState` is the state of an empty stream.
 * `evolve` must leave the state unchanged for event types it does not know: type names are a
 * storage contract, and old or foreign events must not crash a load.
 *
 * @example
 * const counter: Decider<Increment, Incremented, number> = {
 *   initialState: () => 0,
 *   evolve: (n, e) => (e.type === 'Incremented' ? n + e.data.by : n),
 *   decide: (c) => [{ type: 'Incremented', data: { by: c.data.by } }],
 * };
 */
export interface Decider<C extends Command, E extends Event, S> {
  initialState(): S;
  evolve(state: S, event: E): S;
  decide(command: C, state: S): E | readonly E[];
}

/** Folds `events` into `state` with the decider's `evolve`. */
export function fold<E extends Event, S>(decider: Pick<Decider<never, E, S>, 'evolve'>, state: S, events: Iterable<E>): S {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}

/** `decide`'s result as an array. */
export function decisionEvents<E extends Event>(decision: E | readonly E[]): readonly E[] {
  return Array.isArray(decision) ? (decision as readonly E[]) : [decision as E];
}
