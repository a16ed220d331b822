/**
 * Given/when/then specifications for deciders: given these past events, when this command,
 * then these new events (or this error, or this state). Pure: no store involved.
 *
 * @example
 * const spec = deciderSpec(orderDecider);
 * spec.given([created]).when({ type: 'PayOrder', data: { amount: 10 } }).then([{ type: 'OrderPaid', data: { amount: 10 } }]);
 * spec.given([]).when({ type: 'PayOrder', data: { amount: 10 } }).thenThrows(OrderNotFoundError);
 */
import { decisionEvents, type Command, type Decider, type Event } from '@eventloom/core';
import { expect } from 'vitest';

export interface DeciderWhen<C extends Command, E extends Event, S> {
  when(command: C): DeciderThen<E, S>;
}

export interface DeciderThen<E extends Event, S> {
  /** The command produces exactly these events (type, data and — if given — metadata). */
  then(expected: readonly E[]): void;
  /** The command produces no events. */
  thenNothing(): void;
  /** `decide` throws an instance of `errorClass` (and the message matches, when given). */
  thenThrows(errorClass: new (...args: never[]) => Error, message?: string | RegExp): void;
  /** State after the given events and the command's events. */
  thenState(assertion: (state: S) => void): void;
}

export function deciderSpec<C extends Command, E extends Event, S>(decider: Decider<C, E, S>) {
  return {
    given(events: readonly E[]): DeciderWhen<C, E, S> {
      return {
        when(command: C): DeciderThen<E, S> {
          const run = () => {
            let state = decider.initialState();
            for (const event of events) state = decider.evolve(state, event);
            const produced = decisionEvents(decider.decide(command, state));
            return { state, produced };
          };
          return {
            then(expected) {
              const { produced } = run();
              expect(produced.map(comparable)).toEqual(expected.map(comparable));
            },
            thenNothing() {
              expect(run().produced).toEqual([]);
            },
            thenThrows(errorClass, message) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              expect(thrown, `expected decide to throw ${errorClass.name}`).toBeInstanceOf(errorClass);
              if (message !== undefined) expect((thrown as Error).message).toMatch(message);
            },
            thenState(assertion) {
              const { state, produced } = run();
              let after = state;
              for (const event of produced) after = decider.evolve(after, event);
              assertion(after);
            },
          };
        },
      };
    },
  };
}

function comparable(event: Event): Record<string, unknown> {
  return {
    type: event.type,
    data: event.data,
    ...(event.metadata !== undefined && { metadata: event.metadata }),
  };
}
