/** The transport conformance suite of `@eventloom/testing`, unchanged, on the real RabbitMQ. */
import amqp from 'amqplib';
import type { ConsumeSource, Transport } from '@eventloom/core';
import { RABBITMQ, runTransportConformance, serviceOrSkip } from '@eventloom/testing';
import { describe, it } from 'vitest';
import { sourceQueues } from '../src/names.js';
import { Fixtures } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);

if (url) {
  runTransportConformance(
    'rabbitmq',
    {
      async create() {
        const fx = new Fixtures(url);
        const main = fx.make();
        const drivers = new Map<Transport, typeof main.driver>([[main.transport, main.driver]]);
        return {
          transport: main.transport,
          peer: async () => {
            const made = fx.make();
            drivers.set(made.transport, made.driver);
            return made.transport;
          },
          crash: async (transport) => {
            drivers.get(transport)?.destroy();
          },
          injectRaw: async (source: ConsumeSource, headers, body) => {
            await main.driver.declare([source]);
            const { contentType, ...rest } = { ...headers, contentType: headers['content-type'] };
            delete (rest as Record<string, string>)['content-type'];
            const connection = await amqp.connect(url);
            try {
              const channel = await connection.createConfirmChannel();
              channel.sendToQueue(sourceQueues(source, main.driver.options.partitions).unkeyed, Buffer.from(body), { headers: rest, ...(contentType ? { contentType } : {}), persistent: true });
              await channel.waitForConfirms();
              await channel.close();
            } finally {
              await connection.close();
            }
          },
          isolatedDeadLetters: true,
          cleanup: () => fx.cleanup(),
        };
      },
    },
    { timeScale: 2 },
  );
} else {
  describe('Transport conformance: rabbitmq', () => it.skip('RabbitMQ is not reachable', () => undefined));
}
