/**
 * Given/when/then for process managers, pure (no store): given these messages already handled,
 * when this one arrives, then these commands are sent, these timers scheduled or cancelled, and
 * the state (or completion) is this.
 *
 * @example
 * processManagerSpec(orderProcess)
 *   .given([orderCreated])
 *   .when(paymentCaptured)
 *   .then({ commands: [], cancel: ['payment-deadline'] });
 */
import type { Command, Event, ProcessManagerDefinition, ProcessMessage, ProcessReaction, ProcessTimerFired } from '@eventloom/core';
import { expect } from 'vitest';

/** A message as a spec takes it: type and data; id, stream and correlation are filled in when absent. */
export type SpecMessage<E extends Event> = (E | ProcessTimerFired) & { readonly id?: string; readonly streamId?: string; readonly correlationId?: string };

export interface ProcessManagerThen<S, C extends Command> {
  /** The reaction: commands (type and data) and, when given, timers scheduled (names) and cancelled. */
  then(expected: { readonly commands?: readonly Pick<C, 'type' | 'data'>[]; readonly schedule?: readonly string[]; readonly cancel?: readonly string[] }): void;
  /** The state after the message. */
  thenState(assertion: (state: S) => void): void;
  /** Whether the process is over after the message. */
  thenComplete(complete?: boolean): void;
  /** The message comes after completion: the manager would apply its `afterCompletion` policy, not react. */
  thenLate(): void;
}

export function processManagerSpec<E extends Event, S, C extends Command>(definition: ProcessManagerDefinition<E, S, C>) {
  let counter = 0;
  const full = (m: SpecMessage<E>): ProcessMessage<E | ProcessTimerFired> =>
    ({ ...m, id: m.id ?? `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`, streamId: m.streamId ?? 'spec-1', correlationId: m.correlationId ?? 'spec' }) as ProcessMessage<E | ProcessTimerFired>;
  return {
    given(messages: readonly SpecMessage<E>[]) {
      return {
        when(message: SpecMessage<E>): ProcessManagerThen<S, C> {
          const run = () => {
            let state = definition.initialState();
            for (const m of messages) state = definition.evolve(state, full(m));
            const before = state;
            const incoming = full(message);
            const late = definition.isComplete(before);
            const raw = late ? [] : definition.react(incoming, before);
            const reaction: ProcessReaction<C> = Array.isArray(raw) ? { commands: raw as readonly C[] } : (raw as ProcessReaction<C>);
            const after = late ? before : definition.evolve(before, incoming);
            return { reaction, after, late };
          };
          return {
            then(expected) {
              const { reaction, late } = run();
              expect(late, 'the process was already complete: the message is late').toBe(false);
              expect((reaction.commands ?? []).map((c) => ({ type: c.type, data: c.data }))).toEqual((expected.commands ?? []).map((c) => ({ type: c.type, data: c.data })));
              if (expected.schedule !== undefined) expect((reaction.schedule ?? []).map((t) => t.timer)).toEqual(expected.schedule);
              if (expected.cancel !== undefined) expect(reaction.cancel ?? []).toEqual(expected.cancel);
            },
            thenState(assertion) {
              assertion(run().after);
            },
            thenComplete(complete = true) {
              expect(definition.isComplete(run().after)).toBe(complete);
            },
            thenLate() {
              expect(run().late, 'expected the process to be complete before this message').toBe(true);
            },
          };
        },
      };
    },
  };
}
