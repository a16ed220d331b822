/**
 * One service of the choreography with a broker between the services. Its state stays in the
 * store (PostgreSQL); what it says goes out through an outbox relay of its own streams (the store
 * is the outbox: nothing written is lost between the append and the publish, a crash only
 * publishes again under the same message id), and what it hears comes in through its topic
 * groups. The reactions are the embedded choreography's, unchanged.
 *
 * The payment gateway is the one effect outside the store: its ledger row is written in the
 * inbox's transaction, so a message delivered again (a consumer killed before its ack, a relay
 * that published twice) charges nobody twice.
 */
import {
  ProcessManager,
  startOutboxRelay,
  TimerService,
  type Consumer,
  type ConsumerEvent,
  type DeliveredMessage,
  type EventOutboxRelay,
  type MessageHandlers,
  type RecordedEvent,
  type Transport,
} from '@eventloom/core';
import type { PostgresEventStore, PostgresInbox } from '@eventloom/postgres';
import type { PlannedOrder } from '../catalogue.js';
import { orderProcess, reactions, type ChoreographyPart, type FlowEvent, type OrderProcess, type OrderProcessCommand } from '../choreographed.js';
import type { Services } from '../services/index.js';
import { recordGatewayEffect } from './gateway-ledger.js';
import type { BusConfig } from './open-bus.js';
import { busName } from './open-bus.js';
import { ORDER_COMMANDS, PUBLISHES, READS, sourcesOf, topicName, type Topic } from './topology.js';

export interface BusServiceOptions {
  readonly part: ChoreographyPart;
  readonly bus: BusConfig;
  readonly store: PostgresEventStore;
  readonly transport: Transport;
  /** On a pool of its own (the store's role may not write the ledger; an inbox transaction holds its connection while the store takes others). */
  readonly inbox: PostgresInbox;
  readonly services: Services;
  readonly lookup: (orderId: string) => PlannedOrder;
  /** How soon a restarted service's relay takes over from a killed one. Default 3 s. */
  readonly leaseMs?: number;
  /** How long a message a killed consumer held stays invisible. Default 5 s. */
  readonly visibilityTimeoutMs?: number;
  readonly onEvent?: (event: ConsumerEvent) => void;
}

export interface BusService {
  readonly consumers: readonly Consumer[];
  readonly relays: readonly EventOutboxRelay[];
  /** Resolves when every consumer receives. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * A delivered event as the reactions read it. The log's positions do not travel (the relay sends
 * the event's id, type, data, conversation and stream); the reactions use none of them.
 */
export function asRecorded(message: DeliveredMessage<FlowEvent>): RecordedEvent<FlowEvent> {
  return { ...message, streamId: message.subject ?? '', streamVersion: 0n, position: -1n } as RecordedEvent<FlowEvent>;
}

export function startServiceOnBus(options: BusServiceOptions): BusService {
  const { part, bus, store, transport, inbox, services, lookup } = options;
  const react = reactions(store, services, lookup);
  const consumerOptions = {
    concurrency: 8,
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? 5_000,
    failurePolicy: { maxAttempts: 10, retryDelayMs: 50 },
    unhandled: 'ack' as const,
    logger: false as const,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };

  // #region bus-relay
  // What this service writes, published on its topic from the store's log (message id = event id).
  const relays = (Object.entries(PUBLISHES) as [Topic, (typeof PUBLISHES)[Topic]][])
    .filter(([, p]) => p.owner === part)
    .map(([topic, p]) =>
      startOutboxRelay<FlowEvent>({
        store,
        transport,
        name: `${part}-to-${topic}`,
        filter: { streamPrefixes: [p.streamPrefix] },
        route: () => ({ topic: topicName(bus, topic) }),
        leaseMs: options.leaseMs ?? 3_000,
        pollIntervalMs: 50,
        logger: false,
      }),
    );
  // #endregion bus-relay

  let process: ProcessManager<FlowEvent, OrderProcess, OrderProcessCommand> | null = null;
  let timers: TimerService | null = null;
  if (part === 'process') {
    timers = new TimerService({ store, onFire: (t) => process!.onTimer(t) });
    process = new ProcessManager({
      store,
      definition: orderProcess,
      timers,
      // "Not paid in time" is a command: to the order service's queue, its id derived from the timer's firing.
      dispatch: async (command) =>
        void (await transport.send(busName(bus, ORDER_COMMANDS), { type: command.type, data: command.data, id: command.id, correlationId: command.correlationId, causationId: command.causationId })),
    });
  }

  const handle = (topic: Topic) => async (message: DeliveredMessage<FlowEvent>) => {
    const event = asRecorded(message);
    switch (part) {
      case 'process':
        await process!.handle(event);
        return;
      case 'payment': {
        // #region bus-inbox
        // The charge itself is idempotent in the store; the gateway's ledger is not, so it is written
        // in the inbox's transaction: once per message and consumer, however often it is delivered.
        await inbox.handle(`payment-service.${topic}`, message, async (client) => {
          await react.payment(event);
          await recordGatewayEffect(client, store, event);
        });
        // #endregion bus-inbox
        return;
      }
      default:
        await react[part](event);
    }
  };

  const consumers: Consumer[] = sourcesOf(bus, part).map(({ topic, source }) => {
    const handlers: Record<string, (m: DeliveredMessage<FlowEvent>) => Promise<void>> = {};
    for (const type of READS[part][topic] ?? []) handlers[type] = handle(topic);
    return transport.consume<FlowEvent>(source, handlers as MessageHandlers<FlowEvent>, consumerOptions);
  });
  if (part === 'orders') {
    type CancelOrder = { readonly type: 'CancelOrder'; readonly data: { readonly orderId: string; readonly reason: string } };
    consumers.push(
      transport.consume<CancelOrder>(
        { queue: busName(bus, ORDER_COMMANDS) },
        { CancelOrder: (m) => services.orders.cancel(m.data.orderId, m.data.reason, m.id, m.correlationId) },
        { ...consumerOptions, unhandled: 'dead-letter' },
      ),
    );
  }
  timers?.start();

  return {
    consumers,
    relays,
    ready: Promise.all(consumers.map((c) => c.ready)).then(() => undefined),
    async stop() {
      await timers?.stop();
      await Promise.all([...consumers.map((c) => c.stop({ drainMs: 2_000 })), ...relays.map((r) => r.stop())]);
    },
  };
}

