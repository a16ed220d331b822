/**
 * Putting a fault between core's engine and a real transport driver, for tests: the driver stays
 * itself in every way but the receivers it opens, which `wrap` replaces (a dropped lease
 * renewal, a receive that answers empty at once, counted calls).
 */
import type { ConsumeSource } from '@eventloom/core';
import type { Receiver, ReceiverOptions, TransportDriver } from '@eventloom/core/adapter';

export function wrapReceivers(inner: TransportDriver, wrap: (receiver: Receiver, source: ConsumeSource, options: ReceiverOptions) => Receiver): TransportDriver {
  return {
    kind: inner.kind,
    capabilities: inner.capabilities,
    ...(inner.needsJson !== undefined && { needsJson: inner.needsJson }),
    deadLetters: inner.deadLetters,
    enqueue: (destination, messages) => inner.enqueue(destination, messages),
    declare: (sources) => inner.declare(sources),
    cancelScheduled: (destination, id) => inner.cancelScheduled(destination, id),
    close: () => inner.close(),
    openReceiver: async (source, options) => wrap(await inner.openReceiver(source, options), source, options),
  };
}

/** Every member of `receiver` as a plain object (drivers' receivers are class instances, which a spread would not copy), to override some of. */
export function forwardReceiver(receiver: Receiver): Receiver {
  return {
    receive: (max, signal) => receiver.receive(max, signal),
    ack: (messages) => receiver.ack(messages),
    retry: (message, delayMs, error) => receiver.retry(message, delayMs, error),
    deadLetter: (message, draft) => receiver.deadLetter(message, draft),
    release: (messages) => receiver.release(messages),
    extend: (messages, ms) => receiver.extend(messages, ms),
    close: () => receiver.close(),
  };
}
