/**
 * The transport conformance suite: every transport (memory, SQLite, PostgreSQL, NATS, RabbitMQ)
 * runs it unchanged, with one call. Each case uses its own queue, topic and group names, so test
 * files run in parallel against one broker or database.
 *
 * @example
 * runTransportConformance('postgres', {
 *   create: async () => {
 *     const transport = await openPostgresTransport({ url });
 *     return {
 *       transport,
 *       peer: () => openPostgresTransport({ url }),
 *       crash: (t) => killConnections(t),
 *       cleanup: () => transport.close(),
 *     };
 *   },
 * });
 */
import type { Consumer, Transport } from '@eventloom/core';
import { afterEach, describe, it } from 'vitest';
import { backPressureTests } from './back-pressure.js';
import { badInputTests } from './bad-input.js';
import { badMessageTests } from './bad-messages.js';
import { causationTests } from './causation.js';
import { closedTests } from './closed.js';
import { competingConsumerTests } from './competing.js';
import type { SuiteContext, TransportConformanceOptions, TransportFactory, TransportTestContext } from './context.js';
import { crashTests } from './crash.js';
import { deadLetterTests } from './dead-letters.js';
import { delayedDeliveryTests } from './delayed.js';
import { fanOutTests } from './fan-out.js';
import { modelTests } from './model.js';
import { orderingTests } from './ordering.js';
import { retryTests } from './retries.js';
import { roundTripTests } from './round-trip.js';
import { shutdownTests } from './shutdown.js';

const parts: Record<string, (ctx: SuiteContext) => void> = {
  'round trip': roundTripTests,
  'competing consumers': competingConsumerTests,
  'fan-out': fanOutTests,
  'per-key order': orderingTests,
  retries: retryTests,
  'dead letters': deadLetterTests,
  'bad messages': badMessageTests,
  'delayed delivery': delayedDeliveryTests,
  'back-pressure': backPressureTests,
  'graceful shutdown': shutdownTests,
  crash: crashTests,
  causation: causationTests,
  'bad input': badInputTests,
  closed: closedTests,
  model: modelTests,
};

/** Waits for `promise` at most `ms`, ignoring its failure: for clean-up only. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}

export function runTransportConformance(name: string, factory: TransportFactory, options: TransportConformanceOptions = {}): void {
  describe(`Transport conformance: ${name}`, () => {
    const contexts: TransportTestContext[] = [];
    const peers: Transport[] = [];
    const consumers: Consumer[] = [];
    const timeScale = options.timeScale ?? 1;
    const ctx: SuiteContext = {
      name,
      options,
      async create() {
        const made = await factory.create();
        contexts.push(made);
        return made;
      },
      async peer(made) {
        if (!made.peer) return undefined;
        const transport = await made.peer();
        peers.push(transport);
        return transport;
      },
      consume(transport, source, handlers, consumerOptions) {
        const consumer = transport.consume(source, handlers, consumerOptions);
        consumers.push(consumer);
        return consumer;
      },
      scaled: (ms) => Math.round(ms * timeScale),
    };
    afterEach(async () => {
      // Consumers first (their handlers may be stalled on purpose), then peers, then the contexts.
      // Bounded: a consumer of a crashed transport may never manage to stop cleanly.
      await Promise.all(consumers.splice(0).map((c) => within(c.stop({ drainMs: 0 }), ctx.scaled(5_000))));
      await Promise.all(peers.splice(0).map((p) => within(p.close(), ctx.scaled(5_000))));
      for (const made of contexts.splice(0)) {
        if (made.cleanup) await made.cleanup();
        else await made.transport.close();
      }
    });
    for (const [part, run] of Object.entries(parts)) {
      const reason = options.skip?.[part];
      if (reason) {
        describe(part, () => {
          it.skip(`skipped by the transport: ${reason}`, () => undefined);
        });
        continue;
      }
      run(ctx);
    }
  });
}
