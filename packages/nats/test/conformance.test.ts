/**
 * The transport conformance suite, unchanged, on the real NATS JetStream server: each test's
 * transports share a unique prefix (their own streams), deleted afterwards.
 */
import type { Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { runTransportConformance } from '@eventloom/testing';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { describe } from 'vitest';
import { NatsTransportDriver } from '../src/index.js';
import { sourceStream } from '../src/names.js';
import { deleteStreams, natsUrl, uniquePrefix } from './support.js';

describe.skipIf(!natsUrl)('NATS JetStream transport', () => {
  const servers = natsUrl!;
  runTransportConformance(
    'nats',
    {
      async create() {
        const prefix = uniquePrefix();
        const drivers = new Map<Transport, NatsTransportDriver>();
        const open = async (): Promise<Transport> => {
          // Short bound: a test that loses the server should fail fast, not hang.
          const driver = await NatsTransportDriver.connect({ servers, prefix, partitions: 4, unavailableAfterMs: 10_000 });
          const transport = createTransport(driver, { source: 'conformance' });
          drivers.set(transport, driver);
          return transport;
        };
        const transport = await open();
        const main = drivers.get(transport)!;
        return {
          transport,
          peer: open,
          crash: async (victim) => {
            await drivers.get(victim)?.abandon();
          },
          injectRaw: async (source, headers, body) => {
            const names = sourceStream(prefix, source);
            await main.declare([source]);
            const h = natsHeaders();
            for (const [key, value] of Object.entries(headers)) h.set(key, value);
            const { jetstream } = await import('@nats-io/jetstream');
            await jetstream(main.connection).publish(names.unkeyedSubject, body, { headers: h });
          },
          isolatedDeadLetters: true,
          cleanup: async () => {
            await Promise.all([...drivers.keys()].map((t) => t.close().catch(() => undefined)));
            await deleteStreams(servers, prefix);
          },
        };
      },
    },
    // The server's max_payload (1 MiB by default) less the 1 KiB the driver keeps for headers.
    { maxMessageBytes: 1_048_576 - 1_024, timeScale: 2 },
  );
});
