/** `PostgresTransport`: core's consumer engine over the PostgreSQL queue driver. */
import type {
  ConsumeSource,
  Consumer,
  ConsumerOptions,
  DeadLetterQueue,
  Event,
  MessageHandlers,
  OutgoingMessage,
  SendOptions,
  SentMessage,
  Transport,
  TransportCapabilities,
  TransportOptions,
} from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import type pg from 'pg';
import { openPostgresTransportDriver, type PostgresTransportDriver, type PostgresTransportOptions as DriverOptions } from './postgres-transport.js';

export interface PostgresTransportOptions extends DriverOptions, TransportOptions {}

/**
 * Opens the PostgreSQL transport: durable queues and topics in the event store's schema,
 * tenant-scoped by row-level security. From a URL it migrates the schema first (as
 * `openPostgresEventStore` does); from a store it shares the store's pool, schema and tenant.
 *
 * @example
 * const transport = await openPostgresTransport({ connectionString: process.env.DATABASE_URL, schema: 'app', source: 'billing' });
 * await transport.send('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-1' } });
 */
export async function openPostgresTransport(options: PostgresTransportOptions): Promise<PostgresTransport> {
  const { source, schemas, tracing, ...driverOptions } = options ?? ({} as PostgresTransportOptions);
  const driver = await openPostgresTransportDriver(driverOptions);
  return new PostgresTransport(driver, {
    ...(source !== undefined && { source }),
    ...(schemas !== undefined && { schemas }),
    ...(tracing !== undefined && { tracing }),
  });
}

export class PostgresTransport implements Transport {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterQueue;
  readonly #driver: PostgresTransportDriver;
  readonly #engine: Transport;

  /** Use `openPostgresTransport`. */
  constructor(driver: PostgresTransportDriver, options: TransportOptions) {
    this.#driver = driver;
    this.#engine = createTransport(driver, options);
    this.kind = this.#engine.kind;
    this.capabilities = this.#engine.capabilities;
    this.deadLetters = this.#engine.deadLetters;
  }

  /** The connections the queues use (the store's, when opened from one). */
  get pool(): pg.Pool {
    return this.#driver.pool;
  }

  send<M extends Event>(queue: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.send(queue, messages, options);
  }

  publish<M extends Event>(topic: string, messages: OutgoingMessage<M> | readonly OutgoingMessage<M>[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.#engine.publish(topic, messages, options);
  }

  consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer {
    return this.#engine.consume(source, handlers, options);
  }

  declare(sources: readonly ConsumeSource[]): Promise<void> {
    return this.#engine.declare(sources);
  }

  cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    return this.#engine.cancelScheduled(destination, messageId);
  }

  /** Stops the consumers (as `stop()` does), then closes the connections the transport opened (a store's pool stays open). */
  close(): Promise<void> {
    return this.#engine.close();
  }

  /**
   * Stops at once as a killed process would: nothing claimed is released (it comes back when its
   * lease runs out) and the connections are cut. For crash tests.
   * @internal
   */
  abandon(): Promise<void> {
    return this.#driver.abandon();
  }
}
