/**
 * The bus between the services of the distributed mode: a transport on NATS JetStream, RabbitMQ
 * or PostgreSQL, chosen by `EVENTLOOM_BUS`. Every name a run uses carries its run id — a NATS
 * stream prefix, a RabbitMQ name prefix, a PostgreSQL schema — so runs (and tests in parallel)
 * never share a queue, and `dropBus` removes what a run made.
 */
import type { ConsumeSource, Transport } from '@eventloom/core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { openNatsTransport } from '@eventloom/nats';
import { openPostgresTransport, type PostgresEventStore } from '@eventloom/postgres';
import { createRabbitMqTransport } from '@eventloom/rabbitmq';

export type BusKind = 'nats' | 'rabbitmq' | 'postgres';
export const BUS_KINDS: readonly BusKind[] = ['nats', 'rabbitmq', 'postgres'];

export interface BusConfig {
  readonly kind: BusKind;
  /** The broker's URL (NATS, RabbitMQ); the PostgreSQL bus uses the store's connection. */
  readonly url: string;
  /** This run's id: letters, digits and `-`; part of every queue and topic name. */
  readonly runId: string;
}

export const DEFAULT_BUS_URLS: Readonly<Record<Exclude<BusKind, 'postgres'>, string>> = {
  nats: 'nats://127.0.0.1:4222',
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
};

/** The bus from the environment: `EVENTLOOM_BUS` (default nats) and its server's usual variable. */
export function busFromEnv(runId: string, env: NodeJS.ProcessEnv = process.env): BusConfig {
  const kind = (env.EVENTLOOM_BUS || 'nats') as BusKind;
  if (!BUS_KINDS.includes(kind)) throw new Error(`EVENTLOOM_BUS must be one of ${BUS_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const url = kind === 'nats' ? env.EVENTLOOM_NATS_URL || DEFAULT_BUS_URLS.nats : kind === 'rabbitmq' ? env.EVENTLOOM_RABBITMQ_URL || DEFAULT_BUS_URLS.rabbitmq : '';
  return { kind, url, runId };
}

/** What a child process needs to open the same bus. */
export function busEnv(bus: BusConfig): Record<string, string> {
  return { EVENTLOOM_BUS: bus.kind, EVENTLOOM_BUS_URL: bus.url, EVENTLOOM_BUS_RUN: bus.runId };
}

export function busFromChildEnv(env: NodeJS.ProcessEnv = process.env): BusConfig {
  return { kind: env.EVENTLOOM_BUS as BusKind, url: env.EVENTLOOM_BUS_URL ?? '', runId: env.EVENTLOOM_BUS_RUN ?? '' };
}

/**
 * Queue and topic names are the same on every bus; on RabbitMQ (one broker-wide namespace) they
 * carry the run id, on NATS the stream prefix does, on PostgreSQL the schema does.
 */
export function busName(bus: BusConfig, name: string): string {
  return bus.kind === 'rabbitmq' ? `${bus.runId}.${name}` : name;
}

export async function openBus(bus: BusConfig, store: PostgresEventStore, source: string): Promise<Transport> {
  switch (bus.kind) {
    case 'nats':
      return openNatsTransport({ servers: bus.url, prefix: bus.runId, source });
    case 'rabbitmq':
      return createRabbitMqTransport({ url: bus.url, source, namespace: bus.runId });
    case 'postgres':
      // The queues live in the store's schema, on its pool: nothing else to clean up.
      return openPostgresTransport({ store, source, pollIntervalMs: 100 });
  }
}

/**
 * Deletes what a run made on its broker: the NATS streams of its prefix; on RabbitMQ the queues
 * and exchanges of its sources and its namespace (computed from the names: the broker cannot be
 * asked by prefix without its management API). The PostgreSQL bus goes with the schema.
 */
export async function dropBus(bus: BusConfig, sources: readonly ConsumeSource[]): Promise<void> {
  if (bus.kind === 'nats') {
    const nc = await connect({ servers: bus.url });
    try {
      const jsm = await jetstreamManager(nc);
      const mine: string[] = [];
      for await (const name of jsm.streams.names()) if (name.startsWith(`${bus.runId}_`)) mine.push(name);
      await Promise.all(mine.map((name) => jsm.streams.delete(name).catch(() => false)));
    } finally {
      await nc.close();
    }
  } else if (bus.kind === 'rabbitmq') {
    const connection = await amqp.connect(bus.url);
    try {
      const channel = await connection.createChannel();
      const partitions = (base: string) => [base, ...Array.from({ length: RABBITMQ_PARTITIONS }, (_, i) => `${base}:p${i}`)];
      const queues = new Set<string>([`${bus.runId}:dead-letters`]);
      const exchanges = new Set<string>([`${bus.runId}:delay`, `${bus.runId}:return`]);
      for (const source of sources) {
        if ('queue' in source) partitions(source.queue).forEach((q) => queues.add(q));
        else {
          partitions(`${source.topic}:${source.group}`).forEach((q) => queues.add(q));
          exchanges.add(source.topic);
        }
      }
      // Delay buckets are powers of two ms (8 ms … 2^31); deleting one never declared is a no-op.
      for (let ms = 8; ms <= 2 ** 31; ms *= 2) queues.add(`${bus.runId}:delay:${ms}`);
      for (const queue of queues) await channel.deleteQueue(queue);
      for (const exchange of exchanges) await channel.deleteExchange(exchange);
      await channel.close();
    } finally {
      await connection.close();
    }
  }
}

/** The RabbitMQ transport's default partitions per queue and group (what `dropBus` deletes). */
const RABBITMQ_PARTITIONS = 8;
