/**
 * @eventloom/nats — the transport contract on NATS JetStream: streams, durable pull consumers,
 * explicit acks, partitions as subjects, dead letters and delayed messages in streams of their
 * own. See the package README for how queues, topics and groups map onto JetStream.
 */
import type { Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { NatsTransportDriver } from './driver.js';
import type { NatsTransportOptions } from './options.js';

export { NatsTransportDriver } from './driver.js';
export type { NatsTransportOptions } from './options.js';

/** Connects and returns the transport; `close()` it when done. */
export async function openNatsTransport(options: NatsTransportOptions): Promise<Transport> {
  const driver = await NatsTransportDriver.connect(options);
  return createTransport(driver, { source: driver.options.source });
}
