/** What `openNatsTransport` takes. */
import { InvalidArgumentError } from '@eventloom/core';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { PREFIX_PATTERN } from './names.js';

export interface NatsTransportOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /**
   * Prefix of every stream and subject this transport uses (`EVENTLOOM` by default): two
   * applications on one server keep apart by prefix. Letters, digits and `-`, at most 32.
   */
  readonly prefix?: string;
  /** The `source` of messages sent (CloudEvents `source`). Default `eventloom`. */
  readonly source?: string;
  /**
   * Subjects per queue or topic group for partition keys: a key's messages go to one (a hash of
   * the key), and each has one message out at a time. Part of the topology: every transport on
   * one stream must use the same. Default 8.
   */
  readonly partitions?: number;
  /** Stream replicas (1 on a single server). Default 1. */
  readonly replicas?: number;
  /** PubAcks outstanding at most while a batch is published. Default 256. */
  readonly publishWindow?: number;
  /**
   * How long the server may stay away before `send`/`publish`/receiving fail with
   * `TransportUnavailableError` (the client reconnects meanwhile, with backoff). Default 30 s.
   */
  readonly unavailableAfterMs?: number;
  /** Nats-Msg-Id dedupe window of the streams created. Default 2 minutes (the server's default). */
  readonly duplicateWindowMs?: number;
  /**
   * How long a topic's stream keeps a message, whether or not every group has handled it (topic
   * streams have limits retention; see the package README). Default 7 days. A group that falls
   * further behind than this loses the oldest messages.
   */
  readonly topicMaxAgeMs?: number;
  /** Anything else for the client (`user`, `pass`, `token`, `tls`…). */
  readonly connection?: Omit<NodeConnectionOptions, 'servers'>;
}

export interface ResolvedNatsOptions {
  readonly servers: string[];
  readonly prefix: string;
  readonly source: string;
  readonly partitions: number;
  readonly replicas: number;
  readonly publishWindow: number;
  readonly unavailableAfterMs: number;
  readonly duplicateWindowMs: number;
  readonly topicMaxAgeMs: number;
  readonly connection: Omit<NodeConnectionOptions, 'servers'>;
}

export function resolveOptions(options: NatsTransportOptions): ResolvedNatsOptions {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...(options.servers ?? [])];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new InvalidArgumentError('servers', "must be a server URL or a list of them, e.g. 'nats://127.0.0.1:4222'");
  }
  const prefix = options.prefix ?? 'EVENTLOOM';
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('prefix', `must be 1 to 32 letters, digits or '-', got ${JSON.stringify(prefix)}`);
  return {
    servers,
    prefix,
    source: options.source ?? 'eventloom',
    partitions: positiveInteger(options.partitions ?? 8, 'partitions', 1_000),
    replicas: positiveInteger(options.replicas ?? 1, 'replicas', 5),
    publishWindow: positiveInteger(options.publishWindow ?? 256, 'publishWindow', 65_536),
    unavailableAfterMs: positiveInteger(options.unavailableAfterMs ?? 30_000, 'unavailableAfterMs', 24 * 3_600_000),
    duplicateWindowMs: positiveInteger(options.duplicateWindowMs ?? 120_000, 'duplicateWindowMs', 7 * 24 * 3_600_000),
    topicMaxAgeMs: positiveInteger(options.topicMaxAgeMs ?? 7 * 24 * 3_600_000, 'topicMaxAgeMs', 365 * 24 * 3_600_000),
    connection: options.connection ?? {},
  };
}

function positiveInteger(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(name, `must be an integer from 1 to ${max}, got ${String(value)}`);
  return value;
}
