/**
 * How queues, topics, groups and partitions map onto RabbitMQ names. User names cannot contain
 * ':' (core's name rule), so every name Eventloom adds has one and none collides with a user's.
 *
 * - queue `Q`: quorum queue `Q` (messages without a partition key, competing consumers) and
 *   `Q:p0` … `Q:p<N-1>` (keyed messages by hash, single active consumer each);
 * - topic `T`: direct exchange `T` (routing key `u` unkeyed, `p<i>` partition i);
 *   group `G`: quorum queues `T:G` and `T:G:p<i>`, bound to `T` with those routing keys;
 * - shared: `<ns>:delay` (headers exchange into the delay queues `<ns>:delay:<ms>`, whose
 *   messages expire into) `<ns>:return` (headers exchange routing them back by `eventloom-target`).
 */
import { createHash } from 'node:crypto';
import type { ConsumeSource } from '@eventloom/core';

/** The AMQP queues a consumer of `source` reads: the unkeyed one first, then the partitions. */
export interface SourceQueues {
  readonly unkeyed: string;
  readonly partitions: readonly string[];
  /** The topic's exchange, for a topic group. */
  readonly exchange: string | null;
}

export function sourceQueues(source: ConsumeSource, partitions: number): SourceQueues {
  const base = 'queue' in source ? source.queue : `${source.topic}:${source.group}`;
  return {
    unkeyed: base,
    partitions: Array.from({ length: partitions }, (_, i) => `${base}:p${i}`),
    exchange: 'queue' in source ? null : source.topic,
  };
}

/** The first 32 bits of the MD5 of the key modulo `count`: core's `partitionOf`, so a key lands alike everywhere. */
export function partitionOf(key: string, count: number): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0) % count;
}

/** The routing key on a topic's exchange for a message with this partition key (or none). */
export function topicRoutingKey(partitionKey: string | null, partitions: number): string {
  return partitionKey === null ? 'u' : `p${partitionOf(partitionKey, partitions)}`;
}

/** The AMQP queue of `source` a message with this partition key (or none) belongs in. */
export function queueFor(queues: SourceQueues, partitionKey: string | null): string {
  return partitionKey === null ? queues.unkeyed : queues.partitions[partitionOf(partitionKey, queues.partitions.length)]!;
}

export const DELAY_HEADER = 'eventloom-delay';
export const TARGET_HEADER = 'eventloom-target';
export const DELIVER_AT_HEADER = 'eventloom-deliver-at';
export const ATTEMPTS_HEADER = 'eventloom-attempts';
export const FIRST_FAILED_HEADER = 'eventloom-first-failed-at';
export const DEAD_LETTER_HEADER = 'eventloom-dead-letter';

/** `eventloom-target` values: a queue's or an exchange's name, told apart. */
export const queueTarget = (queue: string): string => `q:${queue}`;
export const exchangeTarget = (exchange: string): string => `x:${exchange}`;

/** Delay buckets are powers of two ms from 2^3 to 2^31 (about 25 days); longer waits take several hops. */
export const MIN_DELAY_BUCKET_MS = 8;
export const MAX_DELAY_BUCKET_MS = 2 ** 31;

/**
 * The bucket for a wait of `ms`, never early: the power of two just above it when that is late by
 * little (8 ms or 1/16), else the one just below, the rest waited out by another hop when it
 * arrives. `null`: nothing to wait.
 */
export function delayBucket(ms: number): number | null {
  if (!(ms > 0)) return null;
  if (ms <= MIN_DELAY_BUCKET_MS) return MIN_DELAY_BUCKET_MS;
  const up = 2 ** Math.ceil(Math.log2(ms));
  if (up <= MAX_DELAY_BUCKET_MS && up - ms <= Math.max(MIN_DELAY_BUCKET_MS, ms / 16)) return up;
  return Math.min(MAX_DELAY_BUCKET_MS, 2 ** Math.floor(Math.log2(ms)));
}

export interface SharedNames {
  readonly delayExchange: string;
  readonly returnExchange: string;
  delayQueue(ms: number): string;
}

export function sharedNames(namespace: string): SharedNames {
  return {
    delayExchange: `${namespace}:delay`,
    returnExchange: `${namespace}:return`,
    delayQueue: (ms) => `${namespace}:delay:${ms}`,
  };
}
