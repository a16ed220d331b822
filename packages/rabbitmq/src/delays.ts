/**
 * Delayed delivery without the delayed-message plugin: a message to deliver later goes through
 * `<ns>:delay` into the delay queue of its bucket (a quorum queue with `x-message-ttl`), expires
 * from there into `<ns>:return`, which routes it by its `eventloom-target` header back to its
 * queue or topic. Buckets are powers of two; a message that arrives before its
 * `eventloom-deliver-at` takes another hop (the receiver sends it round again), so it is never
 * early and at most a few ms late per hop.
 */
import type { Options } from 'amqplib';
import { DELAY_HEADER, delayBucket, DELIVER_AT_HEADER, exchangeTarget, queueTarget, TARGET_HEADER } from './names.js';
import type { Publication, Publisher } from './publisher.js';
import type { Topology } from './topology.js';

export type DelayTarget = { readonly queue: string } | { readonly exchange: string; readonly routingKey: string };

export class Delays {
  constructor(
    private readonly topology: Topology,
    private readonly publisher: Publisher,
  ) {}

  /**
   * The publication that puts `content` on `target` now, when `deliverAt` (epoch ms) needs no
   * delay queue (none, or due); else null. Synchronous: the way of almost every message, which
   * then costs no promise.
   */
  direct(target: DelayTarget, content: Buffer, properties: Options.Publish, deliverAt: number | null): Publication | null {
    if (deliverAt !== null && delayBucket(deliverAt - Date.now()) !== null) return null;
    let headers = properties.headers as Record<string, unknown> | undefined;
    const arrived = headers !== undefined && DELIVER_AT_HEADER in headers;
    // What encodeForAmqp made for its destination goes as it is (no copy per message).
    if (!arrived && ('queue' in target ? properties.mandatory === true : true)) {
      return 'queue' in target ? { exchange: '', routingKey: target.queue, content, properties } : { exchange: target.exchange, routingKey: target.routingKey, content, properties };
    }
    if (arrived && headers !== undefined) {
      // Copied without it rather than `delete`d: a deleted key leaves a slow object behind, and headers are encoded per message.
      const { [DELIVER_AT_HEADER]: _arrived, ...rest } = headers;
      headers = rest;
    }
    if ('queue' in target) return { exchange: '', routingKey: target.queue, content, properties: { ...properties, headers, mandatory: true } };
    return { exchange: target.exchange, routingKey: target.routingKey, content, properties: { ...properties, headers } };
  }

  /** The publication that puts `content` on `target`, now or (through a delay queue) at `deliverAt` (epoch ms). */
  async publication(target: DelayTarget, content: Buffer, properties: Options.Publish, deliverAt: number | null): Promise<Publication> {
    const now = this.direct(target, content, properties, deliverAt);
    if (now !== null) return now;
    const bucket = delayBucket(deliverAt! - Date.now());
    // Due meanwhile.
    if (bucket === null) return this.direct(target, content, properties, null)!;
    await this.topology.ensureDelay(bucket);
    return {
      exchange: this.topology.shared.delayExchange,
      routingKey: 'queue' in target ? '' : target.routingKey,
      content,
      properties: {
        ...properties,
        // Unroutable only if the delay queue vanished: then the publish fails rather than a message going missing.
        mandatory: true,
        headers: {
          ...(properties.headers as Record<string, unknown> | undefined),
          [DELAY_HEADER]: String(bucket),
          [TARGET_HEADER]: 'queue' in target ? queueTarget(target.queue) : exchangeTarget(target.exchange),
          [DELIVER_AT_HEADER]: deliverAt,
        },
      },
    };
  }

  async send(target: DelayTarget, content: Buffer, properties: Options.Publish, deliverAt: number | null): Promise<void> {
    await this.publisher.publish(await this.publication(target, content, properties, deliverAt));
  }
}

