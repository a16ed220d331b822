/**
 * What every transport class over a driver shares (`@eventloom/core/adapter`): one rule for its
 * options — which keys are the engine's and which the adapter's, the checks every storage-backed
 * driver repeats — and the engine's `Transport`, forwarded, so that an adapter's class only adds
 * its own members (a pool, a database, `abandon` for crash tests).
 */
import { InvalidArgumentError } from '../envelope/errors.js';
import { describeValue } from '../envelope/describe-value.js';
import type { ConsumeSource, OutgoingMessage, SentMessage } from './message.js';
import type { Event } from '../envelope/event.js';
import type { Consumer, ConsumerOptions, MessageHandlers, SendOptions, Transport, TransportCapabilities } from './transport.js';
import type { DeadLetterQueue } from './dead-letters.js';
import type { TransportDriver } from './driver.js';
import { createTransport, type TransportOptions } from './create-transport.js';

/** Every engine option, named once: a key added to `TransportOptions` does not compile until it is here. */
const ENGINE_KEYS: Readonly<Record<keyof TransportOptions, true>> = { source: true, schemas: true, tracing: true };

/**
 * Splits a transport's options into the engine's (`source`, `schemas`, `tracing`) and the rest,
 * the adapter's. `example` names a valid call for the error when `options` is not an object.
 */
export function splitTransportOptions<O extends TransportOptions>(options: O, example: string): { engine: TransportOptions; adapter: Omit<O, keyof TransportOptions> } {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `must be an object such as ${example}, got ${describeValue(options)}`);
  }
  const engine: Record<string, unknown> = {};
  const adapter: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    (Object.hasOwn(ENGINE_KEYS, key) ? engine : adapter)[key] = value;
  }
  return { engine: engine as TransportOptions, adapter: adapter as Omit<O, keyof TransportOptions> };
}

/** Exactly one of two ways to say where the storage is (`{ store }` or `{ filename }`, …). */
export function requireOneOf(options: object, first: string, second: string, hint: string): void {
  const given = [first, second].filter((key) => (options as Record<string, unknown>)[key] !== undefined);
  if (given.length !== 1) {
    throw new InvalidArgumentError('options', `${given.length === 0 ? `names neither ${first} nor ${second}` : `names both ${first} and ${second}`}: ${hint}`);
  }
}

export const MAX_POLL_INTERVAL_MS = 3_600_000;

/** An idle receiver's longest wait between looks: whole or fractional milliseconds from 1 to an hour. */
export function checkPollIntervalMs(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_POLL_INTERVAL_MS) {
    throw new InvalidArgumentError('pollIntervalMs', `must be a number of milliseconds from 1 to 3,600,000, got ${describeValue(value)}`);
  }
  return value;
}

/** The engine's `Transport` over `driver`, forwarded; adapters extend it with members of their own. */
export class DrivenTransport<D extends TransportDriver = TransportDriver> implements Transport {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterQueue;
  protected readonly driver: D;
  readonly #engine: Transport;

  constructor(driver: D, options: TransportOptions) {
    this.driver = driver;
    this.#engine = createTransport(driver, options);
    this.kind = this.#engine.kind;
    this.capabilities = this.#engine.capabilities;
    this.deadLetters = this.#engine.deadLetters;
  }

  send<M extends Event>(queue: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.send(queue, messages, options);
  }

  publish<M extends Event>(topic: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.publish(topic, messages, options);
  }

  consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer {
    return this.#engine.consume<M>(source, handlers, options);
  }

  declare(sources: readonly ConsumeSource[]): Promise<void> {
    return this.#engine.declare(sources);
  }

  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    return this.#engine.cancelScheduled(destination, messageId);
  }

  /** Stops the consumers (as `stop()` does), then closes the driver. */
  close(): Promise<void> {
    return this.#engine.close();
  }
}
