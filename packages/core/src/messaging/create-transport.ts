/**
 * `createTransport(driver)`: the `Transport` applications use, over any adapter's
 * `TransportDriver`. Everything but storage and delivery is here, once: checking and preparing
 * what is sent, the conversation rule for sends from handlers, tracing, the consumer engine,
 * dead-letter filters, and what a closed transport refuses.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError, NotSupportedError, TransportClosedError } from '../envelope/errors.js';
import type { Event } from '../envelope/event.js';
import { unstorableText } from '../envelope/text.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { MessageConsumer, type ConsumerHost } from './consumer/consumer.js';
import { resolveConsumerOptions } from './consumer/options.js';
import { checkDeadLetterFilter } from './dead-letter-filter.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterQueue } from './dead-letters.js';
import type { PreparedMessage, TransportDriver } from './driver.js';
import type { ConsumeSource, Destination, OutgoingMessage, SentMessage } from './message.js';
import { assertConsumeSource, assertDestinationName } from './names.js';
import { prepareMessages, type CausingEnvelope, type PrepareMessagesOptions } from './prepare.js';
import { createTracing, type TraceParent, type Tracing } from './tracing.js';
import type { Consumer, ConsumerOptions, MessageHandlers, SendOptions, Transport, TransportCapabilities } from './transport.js';

export interface TransportOptions {
  /** The sending service: every message's `source` (CloudEvents `source`). Default `'eventloom'`. */
  readonly source?: string;
  /** Validates sent messages of the types it knows (and gives them their latest schema version). Consumers take their own. */
  readonly schemas?: SchemaRegistry;
  /** OpenTelemetry spans and `traceparent` when `@opentelemetry/api` is installed. Default true. */
  readonly tracing?: boolean;
}

export const DEFAULT_SOURCE = 'eventloom';

/** A `Transport` over `driver`; closing it stops its consumers and closes the driver. */
export function createTransport(driver: TransportDriver, options: TransportOptions = {}): Transport {
  return new EngineTransport(driver, options);
}

class EngineTransport implements Transport {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterQueue;
  readonly #driver: TransportDriver;
  readonly #source: string;
  readonly #schemas: SchemaRegistry | undefined;
  readonly #tracing: Tracing;
  readonly #consumers = new Set<MessageConsumer>();
  readonly #host: ConsumerHost;
  /** How a send with no options from outside a handler is prepared: one object for all of them. */
  readonly #plainSend: PrepareMessagesOptions;
  #closing: Promise<void> | null = null;
  /** Set once the consumers have stopped: sends from handlers still draining go through until then. */
  #closed = false;

  constructor(driver: TransportDriver, options: TransportOptions) {
    if (driver === null || typeof driver !== 'object' || typeof driver.enqueue !== 'function' || typeof driver.openReceiver !== 'function') {
      throw new InvalidArgumentError('driver', `must be a TransportDriver, got ${describeValue(driver)}`);
    }
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', `must be an object, got ${describeValue(options)}`);
    const source = options.source ?? DEFAULT_SOURCE;
    if (typeof source !== 'string' || source.length === 0 || source.length > 255 || unstorableText(source) !== undefined) {
      throw new InvalidArgumentError('options.source', `must be a non-empty string of at most 255 characters naming the service, got ${describeValue(source)}`);
    }
    this.#driver = driver;
    this.kind = driver.kind;
    this.capabilities = driver.capabilities;
    this.#source = source;
    this.#schemas = options.schemas;
    this.#tracing = createTracing(driver.kind, { enabled: options.tracing !== false });
    this.#plainSend = { source, schemas: options.schemas, json: driver.needsJson !== false };
    this.deadLetters = new CheckedDeadLetters(driver.deadLetters, () => this.#assertOpen());
    this.#host = {
      driver,
      transport: this,
      causedSend: (destination, messages, sendOptions, causedBy, traceParent) => this.#send(destination, messages, sendOptions, causedBy, traceParent),
      tracing: this.#tracing,
      onFinished: (consumer) => this.#consumers.delete(consumer),
    };
  }

  send<M extends Event>(queue: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#send({ kind: 'queue', name: queue }, messages as OutgoingMessage | readonly OutgoingMessage[], options, undefined, undefined);
  }

  publish<M extends Event>(topic: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#send({ kind: 'topic', name: topic }, messages as OutgoingMessage | readonly OutgoingMessage[], options, undefined, undefined);
  }

  /**
   * Not async, and no await in between: a single send was mostly promises and turns of the
   * microtask queue. What throws before the driver's promise comes back as a rejection.
   */
  #send(
    destination: Destination,
    messages: OutgoingMessage | readonly OutgoingMessage[],
    options: SendOptions | undefined,
    causedBy: CausingEnvelope | undefined,
    traceParent: TraceParent | undefined,
  ): Promise<readonly SentMessage[]> {
    try {
      this.#assertOpen(causedBy !== undefined);
      assertDestinationName(destination.name, destination.kind);
      const list: readonly OutgoingMessage[] = Array.isArray(messages) ? (messages as readonly OutgoingMessage[]) : [messages as OutgoingMessage];
      return this.#tracing.send(destination.kind, destination.name, list, traceParent, (traced) => {
        const prepared = prepareMessages(
          Array.isArray(messages) ? traced : traced[0]!,
          options === undefined && causedBy === undefined
            ? this.#plainSend
            : { source: this.#source, defaults: options, causedBy, schemas: this.#schemas, json: this.#driver.needsJson !== false },
        );
        if (prepared instanceof Promise) return prepared.then((ready) => this.#enqueue(destination, ready, causedBy));
        return this.#enqueue(destination, prepared, causedBy);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #enqueue(destination: Destination, prepared: readonly PreparedMessage[], causedBy: CausingEnvelope | undefined): Promise<readonly SentMessage[]> {
    this.#assertOpen(causedBy !== undefined);
    return this.#driver.enqueue(destination, prepared).then(() => sentOf(prepared));
  }

  consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer {
    this.#assertOpen();
    assertConsumeSource(source);
    if (handlers === null || typeof handlers !== 'object' || Array.isArray(handlers)) {
      throw new InvalidArgumentError('handlers', `must be an object of handlers by message type, e.g. { OrderPlaced: async (message) => {…} }, got ${describeValue(handlers)}`);
    }
    for (const [type, handler] of Object.entries(handlers)) {
      if (handler !== undefined && typeof handler !== 'function') throw new InvalidArgumentError(`handlers.${type}`, `must be a function, got ${describeValue(handler)}`);
    }
    const resolved = resolveConsumerOptions(options);
    // A copy, so a source object changed later does not change what the consumer reads.
    const own: ConsumeSource = 'queue' in source ? { queue: source.queue } : { topic: source.topic, group: source.group };
    const consumer = new MessageConsumer(own, handlers as MessageHandlers<Event>, resolved, this.#host);
    if (consumer.status !== 'failed' && consumer.status !== 'stopped') this.#consumers.add(consumer);
    return consumer;
  }

  async declare(sources: readonly ConsumeSource[]): Promise<void> {
    this.#assertOpen();
    if (!Array.isArray(sources)) throw new InvalidArgumentError('sources', `must be an array of { queue } or { topic, group }, got ${describeValue(sources)}`);
    sources.forEach((source, i) => assertConsumeSource(source, `sources[${i}]`));
    if (sources.length === 0) return;
    await this.#driver.declare(sources);
  }

  async cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    this.#assertOpen();
    if (!this.capabilities.cancelScheduled) {
      throw new NotSupportedError('cancelScheduled', this.kind, 'this transport cannot withdraw a delayed message; have its handler ignore it instead (e.g. check a flag)');
    }
    if (destination !== null && typeof destination === 'object' && 'topic' in destination && !('group' in destination)) {
      assertDestinationName(destination.topic, 'destination.topic');
    } else {
      assertConsumeSource(destination, 'destination');
    }
    if (typeof messageId !== 'string' || messageId.length === 0 || messageId.length > 255) {
      throw new InvalidArgumentError('messageId', `must be the id send or publish returned, got ${describeValue(messageId)}`);
    }
    return this.#driver.cancelScheduled(destination, messageId.toLowerCase());
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#consumers].map((consumer) => consumer.stop()));
      this.#closed = true;
      await this.#driver.close();
    })();
    return this.#closing;
  }

  /** `draining`: a send from a handler, allowed while the consumers stop. */
  #assertOpen(draining = false): void {
    if (this.#closed || (this.#closing !== null && !draining)) throw new TransportClosedError(this.kind);
  }
}

function sentOf(prepared: readonly PreparedMessage[]): SentMessage[] {
  const sent: SentMessage[] = new Array(prepared.length);
  for (let i = 0; i < prepared.length; i++) {
    const message = prepared[i]!;
    sent[i] = { id: message.envelope.id, deliverAt: message.deliverAt === null ? null : message.deliverAt.toISOString() };
  }
  return sent;
}

/** The driver's dead-letter queue with filters checked first, so every transport refuses the same bad filter. */
class CheckedDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly inner: DeadLetterQueue,
    private readonly assertOpen: () => void,
  ) {}

  async list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]> {
    this.assertOpen();
    return this.inner.list(checkDeadLetterFilter(filter));
  }

  async get(id: string): Promise<DeadLetter | null> {
    this.assertOpen();
    if (typeof id !== 'string' || id.length === 0 || id.length > 255) throw new InvalidArgumentError('id', `must be a dead-letter id, got ${describeValue(id)}`);
    return this.inner.get(id);
  }

  async redrive(filter?: DeadLetterFilter): Promise<number> {
    this.assertOpen();
    return this.inner.redrive(checkDeadLetterFilter(filter));
  }

  async purge(filter?: DeadLetterFilter): Promise<number> {
    this.assertOpen();
    return this.inner.purge(checkDeadLetterFilter(filter));
  }
}
