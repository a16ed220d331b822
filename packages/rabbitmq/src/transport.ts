/** A `Transport` on RabbitMQ: core's engine over the RabbitMQ driver. */
import type { Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { RabbitMqDriver } from './driver.js';
import type { RabbitMqTransportOptions } from './options.js';

/**
 * A transport on the broker at `options.url` (default `EVENTLOOM_RABBITMQ_URL`). Connects on
 * first use and reconnects by itself; see the README for what a confirmed send survives.
 */
export function createRabbitMqTransport(options: RabbitMqTransportOptions = {}): Transport {
  return createTransport(new RabbitMqDriver(options), { source: options.source });
}
