/**
 * How Eventloom's queues, topics and groups are named on JetStream. A destination name may hold
 * `.` (a subject separator) and `_`; both are escaped so each name is ONE subject token and a
 * valid stream/consumer name, and distinct names never share a stream or a subject.
 */
import type { ConsumeSource, Destination } from '@eventloom/core';

/** `_` → `__`, `.` → `_d`: injective, and the result has no `.`, `*`, `>` or whitespace. */
export function nameToken(name: string): string {
  return name.replace(/_/g, '__').replace(/\./g, '_d');
}

export type DestinationKind = 'queue' | 'topic';

export interface StreamNames {
  readonly kind: DestinationKind;
  /** The Eventloom name (queue or topic). */
  readonly name: string;
  readonly stream: string;
  /** Every subject of the stream: `<prefix>.<q|t>.<token>.>` */
  readonly subjects: string;
  /** Messages without a partition key. */
  readonly unkeyedSubject: string;
  partitionSubject(partition: number): string;
}

export function streamNames(prefix: string, kind: DestinationKind, name: string): StreamNames {
  const letter = kind === 'queue' ? 'q' : 't';
  const token = nameToken(name);
  const base = `${prefix}.${letter}.${token}`;
  return {
    kind,
    name,
    stream: `${prefix}_${letter}_${token}`,
    subjects: `${base}.>`,
    unkeyedSubject: `${base}.u`,
    partitionSubject: (partition) => `${base}.p${partition}`,
  };
}

export function destinationStream(prefix: string, destination: Destination): StreamNames {
  return streamNames(prefix, destination.kind, destination.name);
}

export function sourceStream(prefix: string, source: ConsumeSource): StreamNames {
  return 'queue' in source ? streamNames(prefix, 'queue', source.queue) : streamNames(prefix, 'topic', source.topic);
}

/** The durable consumers of a queue or of a topic group: one for unkeyed messages, one per partition. */
export function consumerNames(source: ConsumeSource, partitions: number): { readonly unkeyed: string; readonly partitions: readonly string[] } {
  const stem = 'queue' in source ? 'q' : `g_${nameToken(source.group)}`;
  return {
    unkeyed: `${stem}_u`,
    partitions: Array.from({ length: partitions }, (_, i) => `${stem}_p${i}`),
  };
}

export function consumerLabel(source: ConsumeSource): string {
  return 'queue' in source ? source.queue : source.group;
}

export function delayStream(prefix: string): { readonly stream: string; readonly subjects: string; subject(messageId: string): string } {
  return { stream: `${prefix}_delay`, subjects: `${prefix}.delay.>`, subject: (id) => `${prefix}.delay.${id}` };
}

export function deadLetterStream(prefix: string): { readonly stream: string; readonly subjects: string; subject(deadLetterId: string): string } {
  return { stream: `${prefix}_dlq`, subjects: `${prefix}.dlq.>`, subject: (id) => `${prefix}.dlq.${id}` };
}

/** FNV-1a over the key's UTF-8 bytes: stable across processes and releases (it decides a key's partition). */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

export const PREFIX_PATTERN = /^[A-Za-z0-9-]{1,32}$/;
