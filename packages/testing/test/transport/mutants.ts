/**
 * Faults put into a correct transport (the memory driver), one at a time, and the suite's parts
 * that must catch each: proof that the conformance suite can fail where a transport is wrong.
 */
import type { Receiver, TransportDriver } from '@eventloom/core/adapter';

export const MUTANTS = {
  /** The receiver claims far more than it is asked for (no back-pressure). */
  'ignore-max': ['back-pressure'],
  /** A batch is stored in reverse (send order lost). */
  'reverse-batch': ['per-key order'],
  /** Delays are dropped: everything is visible at once. */
  'no-delay': ['delayed delivery'],
  /** `declare` does nothing: a group exists only from its consumer on. */
  'no-declare': ['fan-out'],
  /** Acks are lost: messages come back after the visibility timeout. */
  'no-ack': ['graceful shutdown', 'per-key order'],
  /** A retry acks the message instead: it is lost. */
  'retry-loses': ['retries', 'dead letters', 'model'],
  /** Dead letters lose their first failure time and stack. */
  'dl-times': ['dead letters'],
  /** Dead-lettering acks the message and stores nothing: it vanishes. */
  'dl-loses': ['dead letters', 'bad messages', 'model'],
  /** Claims never time out: a crashed consumer's messages never come back. */
  'no-visibility': ['crash', 'model'],
} as const satisfies Record<string, readonly string[]>;

export type Mutant = keyof typeof MUTANTS;

export function isMutant(value: string | undefined): value is Mutant {
  return value !== undefined && Object.hasOwn(MUTANTS, value);
}

/** `inner` with `fault` put in (at the driver and receiver boundary, as an adapter's bug would be). */
export function mutate(inner: TransportDriver, fault: Mutant): TransportDriver {
  return {
    kind: inner.kind,
    capabilities: inner.capabilities,
    deadLetters: inner.deadLetters,
    enqueue: (destination, messages) => {
      if (fault === 'reverse-batch') return inner.enqueue(destination, [...messages].reverse());
      if (fault === 'no-delay') return inner.enqueue(destination, messages.map((m) => ({ ...m, deliverAt: null })));
      return inner.enqueue(destination, messages);
    },
    declare: (sources) => (fault === 'no-declare' ? Promise.resolve() : inner.declare(sources)),
    cancelScheduled: (destination, id) => inner.cancelScheduled(destination, id),
    close: () => inner.close(),
    async openReceiver(source, options) {
      const receiver = await inner.openReceiver(source, fault === 'no-visibility' ? { ...options, visibilityTimeoutMs: 3_600_000 } : options);
      const mutated: Receiver = {
        receive: (max, signal) => receiver.receive(fault === 'ignore-max' ? 1_000 : max, signal),
        ack: (messages) => (fault === 'no-ack' ? Promise.resolve() : receiver.ack(messages)),
        retry: async (message, delayMs, error) => {
          if (fault !== 'retry-loses') return receiver.retry(message, delayMs, error);
          await receiver.ack([message]);
          return 'redelivered';
        },
        deadLetter: async (message, draft) => {
          if (fault === 'dl-times') return receiver.deadLetter(message, { ...draft, firstFailedAt: draft.lastFailedAt, stack: null });
          if (fault !== 'dl-loses') return receiver.deadLetter(message, draft);
          await receiver.ack([message]);
          return { ...draft, id: 'lost' };
        },
        release: (messages) => receiver.release(messages),
        extend: (messages, ms) => receiver.extend(messages, ms),
        close: () => receiver.close(),
      };
      return mutated;
    },
  };
}
