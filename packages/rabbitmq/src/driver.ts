/**
 * The RabbitMQ `TransportDriver`: storage and delivery on the broker; core's engine
 * (`createTransport`) does dispatch, decoding, retries, per-key order inside a consumer and
 * back-pressure. See the package README for the mapping onto queues and exchanges.
 */
import { NotSupportedError, TransportClosedError, type ConsumeSource, type Destination } from '@eventloom/core';
import { assertConsumeSource, type PreparedMessage, type Receiver, type ReceiverOptions, type TransportDriver } from '@eventloom/core/adapter';
import { ReconnectingConnection } from './connection.js';
import { DeadLetterStore } from './dead-letter-store.js';
import { Delays } from './delays.js';
import { KIND, operationError } from './errors.js';
import { queueFor, topicRoutingKey } from './names.js';
import { resolveOptions, type RabbitMqTransportOptions, type ResolvedOptions } from './options.js';
import { Publisher, PublishRefused, type Publication } from './publisher.js';
import { AmqpReceiver } from './receiver.js';
import { Topology } from './topology.js';
import { encodeForAmqp } from './wire.js';

export class RabbitMqDriver implements TransportDriver {
  readonly kind = KIND;
  readonly capabilities = { cancelScheduled: false } as const;
  readonly options: ResolvedOptions;
  readonly deadLetters: DeadLetterStore;
  private readonly connection: ReconnectingConnection;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly delays: Delays;
  private readonly receivers = new Set<AmqpReceiver>();
  private closed = false;

  constructor(options: RabbitMqTransportOptions = {}) {
    this.options = resolveOptions(options);
    this.connection = new ReconnectingConnection(this.options);
    this.topology = new Topology(this.connection, this.options);
    this.publisher = new Publisher(this.connection, this.options);
    this.delays = new Delays(this.topology, this.publisher);
    this.deadLetters = new DeadLetterStore(this.connection, this.topology, this.publisher, this.options.deadLetterQueue);
  }

  /** Connects now rather than at the first operation; rejects with `TransportUnavailableError` after `unavailableAfterMs`. */
  async connect(): Promise<void> {
    await this.connection.get();
  }

  async enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    // Encoded first, so a message AMQP cannot carry fails the send before anything is published.
    const payloads = messages.map((message, i) => encodeForAmqp(message, i, this.options.cloudEventsMode, destination.kind === 'queue' && message.deliverAt === null));
    const publications: Publication[] = [];
    if (destination.kind === 'queue') {
      const queues = await this.topology.ensureSource({ queue: destination.name });
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        const { content, properties } = payloads[i]!;
        const target = { queue: queueFor(queues, message.envelope.partitionKey) };
        const at = deliverAt(message);
        publications.push(this.delays.direct(target, content, properties, at) ?? (await this.delays.publication(target, content, properties, at)));
      }
    } else {
      await this.topology.ensureTopic(destination.name);
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        const { content, properties } = payloads[i]!;
        const target = { exchange: destination.name, routingKey: topicRoutingKey(message.envelope.partitionKey, this.options.partitions) };
        const at = deliverAt(message);
        publications.push(this.delays.direct(target, content, properties, at) ?? (await this.delays.publication(target, content, properties, at)));
      }
    }
    try {
      await this.publisher.publishAll(publications);
    } catch (error) {
      if (error instanceof PublishRefused && error.reason === 'unroutable') {
        // A queue declared earlier is gone (deleted by someone): declare again and send once more.
        this.topology.forget();
        if (destination.kind === 'queue') await this.topology.ensureSource({ queue: destination.name });
        await this.publisher.publishAll(publications).catch((again: unknown) => {
          throw operationError(again, `sending to ${destination.kind} '${destination.name}'`);
        });
        return;
      }
      throw operationError(error, `sending to ${destination.kind} '${destination.name}'`);
    }
  }

  async declare(sources: readonly ConsumeSource[]): Promise<void> {
    this.assertOpen();
    for (const source of sources) assertConsumeSource(source);
    for (const source of sources) await this.topology.ensureSource(source);
  }

  async openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver> {
    this.assertOpen();
    assertConsumeSource(source);
    const receiver = new AmqpReceiver(
      {
        connection: this.connection,
        topology: this.topology,
        publisher: this.publisher,
        delays: this.delays,
        deadLetters: this.deadLetters,
        partitions: this.options.partitions,
      },
      source,
      options,
    );
    await receiver.start();
    this.receivers.add(receiver);
    const close = receiver.close.bind(receiver);
    receiver.close = async () => {
      this.receivers.delete(receiver);
      await close();
    };
    return receiver;
  }

  async cancelScheduled(): Promise<boolean> {
    throw new NotSupportedError('cancelScheduled', KIND, 'a delayed message waits in a shared delay queue and cannot be withdrawn; check a flag in its handler instead');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const receiver of [...this.receivers]) await receiver.close();
    await this.publisher.close();
    await this.connection.close();
  }

  /** Drops the connection without closing anything, as a killed process does: what its consumers held goes back to the broker (tests). */
  destroy(): void {
    this.closed = true;
    this.connection.destroy();
  }

  /** The queues and exchanges this transport declared, shared delay queues and exchanges aside: what a test deletes after itself. */
  declaredResources(): { readonly queues: readonly string[]; readonly exchanges: readonly string[] } {
    return { queues: [...this.topology.declaredQueues], exchanges: [...this.topology.declaredExchanges] };
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportClosedError(KIND);
  }
}

function deliverAt(message: PreparedMessage): number | null {
  return message.deliverAt === null ? null : message.deliverAt.getTime();
}
