/** What a RabbitMQ transport is configured with, and the defaults it fills in. */
import { InvalidArgumentError } from '@eventloom/core';

export interface RabbitMqTransportOptions {
  /** `amqp://user:pass@host:port/vhost`. Default `EVENTLOOM_RABBITMQ_URL` or `amqp://guest:guest@127.0.0.1:5672`. */
  readonly url?: string;
  /** The `source` of messages this transport sends. Default `'eventloom'`. */
  readonly source?: string;
  /**
   * Partition queues per queue and per topic group: messages with a partition key go to one of
   * them by a hash of the key, each consumed by one consumer at a time (single active consumer),
   * so a key's messages are handled in order. Every transport on a broker must use the same
   * count. Default 4.
   */
  readonly partitions?: number;
  /** Prefix of the shared resources (delay queues, the return and delay exchanges). Default `'eventloom'`. */
  readonly namespace?: string;
  /** The quorum queue dead letters are parked in. Default `<namespace>:dead-letters`. */
  readonly deadLetterQueue?: string;
  /** Publishes awaiting their confirm at once, at most (per transport). Default 256. */
  readonly confirmWindow?: number;
  /** How long the broker may stay away before operations fail with `TransportUnavailableError`. Default 30 s. */
  readonly unavailableAfterMs?: number;
  /** First and largest wait between reconnect attempts. Defaults 100 ms and 5 s. */
  readonly reconnectInitialDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
  /** Heartbeat interval the client asks for, in seconds; a dead broker is noticed after about twice this. Default 10. */
  readonly heartbeatSeconds?: number;
  /** TCP_NODELAY: each frame goes out at once rather than coalesced by Nagle's algorithm. Default false, as amqplib's: in A/B runs coalescing gave more throughput and no worse latency. */
  readonly noDelay?: boolean;
  /**
   * How messages travel: `'binary'` (default) — the attributes as `ce-` AMQP headers, the data as
   * the body; `'structured'` — one `application/cloudevents+json` body, no headers to encode and
   * decode (cheaper per message). Consumers read both.
   */
  readonly cloudEventsMode?: 'binary' | 'structured';
}

export interface ResolvedOptions {
  readonly url: string;
  readonly source: string;
  readonly partitions: number;
  readonly namespace: string;
  readonly deadLetterQueue: string;
  readonly confirmWindow: number;
  readonly unavailableAfterMs: number;
  readonly reconnectInitialDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly heartbeatSeconds: number;
  readonly noDelay: boolean;
  readonly cloudEventsMode: 'binary' | 'structured';
}

export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

export function resolveOptions(options: RabbitMqTransportOptions = {}): ResolvedOptions {
  const namespace = options.namespace ?? 'eventloom';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(namespace)) {
    throw new InvalidArgumentError('namespace', `must be 1 to 64 letters, digits, '.', '_' or '-', got ${JSON.stringify(namespace)}`);
  }
  const resolved: ResolvedOptions = {
    url: options.url ?? process.env.EVENTLOOM_RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL,
    source: options.source ?? 'eventloom',
    partitions: integer('partitions', options.partitions ?? 4, 1, 256),
    namespace,
    deadLetterQueue: options.deadLetterQueue ?? `${namespace}:dead-letters`,
    confirmWindow: integer('confirmWindow', options.confirmWindow ?? 256, 1, 65_535),
    unavailableAfterMs: integer('unavailableAfterMs', options.unavailableAfterMs ?? 30_000, 0, 86_400_000),
    reconnectInitialDelayMs: integer('reconnectInitialDelayMs', options.reconnectInitialDelayMs ?? 100, 1, 60_000),
    reconnectMaxDelayMs: integer('reconnectMaxDelayMs', options.reconnectMaxDelayMs ?? 5_000, 1, 600_000),
    heartbeatSeconds: integer('heartbeatSeconds', options.heartbeatSeconds ?? 10, 0, 600),
    noDelay: options.noDelay ?? false,
    cloudEventsMode: options.cloudEventsMode ?? 'binary',
  };
  if (resolved.cloudEventsMode !== 'binary' && resolved.cloudEventsMode !== 'structured') {
    throw new InvalidArgumentError('cloudEventsMode', `must be 'binary' or 'structured', got ${JSON.stringify(resolved.cloudEventsMode)}`);
  }
  if (resolved.deadLetterQueue.length === 0 || resolved.deadLetterQueue.length > 255 || resolved.deadLetterQueue.startsWith('amq.')) {
    throw new InvalidArgumentError('deadLetterQueue', `must be a queue name of 1 to 255 characters not starting with 'amq.', got ${JSON.stringify(resolved.deadLetterQueue)}`);
  }
  return resolved;
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
