/**
 * Streams and durable pull consumers, created on demand or verified. A stream or consumer that
 * exists with settings other than ours is a `TopologyConflictError` and nothing is changed —
 * except AckWait, which follows the consumer's visibility timeout (the last receiver's wins).
 */
import { TopologyConflictError } from '@eventloom/core';
import type { ConsumeSource } from '@eventloom/core';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { isNotFound, mapped } from './errors.js';
import { consumerNames, deadLetterStream, delayStream, sourceStream, type StreamNames } from './names.js';

export interface TopologySettings {
  readonly prefix: string;
  readonly partitions: number;
  readonly replicas: number;
  /** Nats-Msg-Id dedupe window, ms. */
  readonly duplicateWindowMs: number;
  /** How long a topic's stream keeps a message (limits retention), ms. */
  readonly topicMaxAgeMs: number;
}

interface WantedStream {
  readonly name: string;
  readonly subjects: string;
  readonly retention: RetentionPolicy;
  readonly description: string;
  /** Limits retention only: the age at which the server drops a message. */
  readonly maxAgeMs?: number;
}

export class Topology {
  /** Streams and consumers known to exist as we want them (a cache; a deleted one is recreated on the next miss). */
  private readonly streams = new Map<string, Promise<void>>();
  private readonly consumers = new Map<string, Promise<void>>();

  constructor(
    private readonly jsm: JetStreamManager,
    readonly settings: TopologySettings,
  ) {}

  /**
   * The stream of a queue (work-queue retention: a message is removed once acked) or of a topic
   * (limits retention: kept for `topicMaxAgeMs`, each group's consumers keep their own place).
   * Not interest retention for topics: after a kill -9, nats-server 2.9 removed messages of an
   * interest stream that one partition consumer had never acked (the restart test lost 70-375 of
   * 800 a topic group had not handled, every subject's messages below another partition's ack
   * floor); a limits stream never removes a message because of an ack.
   */
  ensureDestinationStream(names: StreamNames): Promise<void> {
    const queue = names.kind === 'queue';
    return this.ensureStream({
      name: names.stream,
      subjects: names.subjects,
      retention: queue ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      description: `eventloom ${names.kind} ${names.name}; partitions=${this.settings.partitions}`,
      ...(!queue && { maxAgeMs: this.settings.topicMaxAgeMs }),
    });
  }

  ensureDelayStream(): Promise<void> {
    const d = delayStream(this.settings.prefix);
    return this.ensureStream({ name: d.stream, subjects: d.subjects, retention: RetentionPolicy.Workqueue, description: 'eventloom delayed messages' });
  }

  ensureDeadLetterStream(): Promise<void> {
    const d = deadLetterStream(this.settings.prefix);
    return this.ensureStream({ name: d.stream, subjects: d.subjects, retention: RetentionPolicy.Limits, description: 'eventloom dead letters' });
  }

  /** Forget what we know (after a stream was deleted behind our back, or a restart lost it). */
  forget(stream: string): void {
    this.streams.delete(stream);
    for (const key of [...this.consumers.keys()]) if (key.startsWith(`${stream}/`)) this.consumers.delete(key);
  }

  /** Every durable consumer of a queue, or of one topic group; AckWait set to `ackWaitMs`. */
  async ensureSource(source: ConsumeSource, ackWaitMs: number | null): Promise<{ readonly stream: string; readonly unkeyed: string; readonly partitions: readonly string[] }> {
    const names = sourceStream(this.settings.prefix, source);
    await this.ensureDestinationStream(names);
    const consumers = consumerNames(source, this.settings.partitions);
    const deliver = 'queue' in source ? DeliverPolicy.All : DeliverPolicy.New;
    await Promise.all([
      this.ensureConsumer(names.stream, consumers.unkeyed, names.unkeyedSubject, deliver, -1, ackWaitMs),
      ...consumers.partitions.map((durable, i) =>
        // One message of a partition out at a time, across every receiver: per-key order is the server's.
        this.ensureConsumer(names.stream, durable, names.partitionSubject(i), deliver, 1, ackWaitMs),
      ),
    ]);
    return { stream: names.stream, ...consumers };
  }

  /** A durable consumer on its own (the delay scheduler's). */
  ensurePlainConsumer(stream: string, durable: string, subject: string, ackWaitMs: number): Promise<void> {
    return this.ensureConsumer(stream, durable, subject, DeliverPolicy.All, -1, ackWaitMs);
  }

  private ensureStream(wanted: WantedStream): Promise<void> {
    let known = this.streams.get(wanted.name);
    if (!known) {
      known = this.createOrVerifyStream(wanted);
      known.catch(() => this.streams.delete(wanted.name));
      this.streams.set(wanted.name, known);
    }
    return known;
  }

  private async createOrVerifyStream(wanted: WantedStream): Promise<void> {
    const existing = await mapped(`look up stream ${wanted.name}`, async () => {
      try {
        return await this.jsm.streams.info(wanted.name);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
    if (existing) return verifyStream(existing.config, wanted);
    const config: Partial<StreamConfig> & { name: string } = {
      name: wanted.name,
      subjects: [wanted.subjects],
      retention: wanted.retention,
      storage: StorageType.File,
      num_replicas: this.settings.replicas,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(this.settings.duplicateWindowMs),
      description: wanted.description,
      ...(wanted.maxAgeMs !== undefined && { max_age: nanos(wanted.maxAgeMs) }),
    };
    await mapped(`create stream ${wanted.name}`, async () => {
      try {
        await this.jsm.streams.add(config);
      } catch (error) {
        // Another process created it at the same moment: verify theirs instead.
        const raced = await this.jsm.streams.info(wanted.name).catch(() => null);
        if (!raced) throw error;
        verifyStream(raced.config, wanted);
      }
    });
  }

  private ensureConsumer(stream: string, durable: string, subject: string, deliver: DeliverPolicy, maxAckPending: number, ackWaitMs: number | null): Promise<void> {
    const key = `${stream}/${durable}`;
    const known = this.consumers.get(key);
    // A known consumer only needs work when a receiver asks for another AckWait.
    if (known && ackWaitMs === null) return known;
    const made = (known ?? Promise.resolve()).then(() => this.createOrVerifyConsumer(stream, durable, subject, deliver, maxAckPending, ackWaitMs));
    made.catch(() => this.consumers.delete(key));
    this.consumers.set(key, made);
    return made;
  }

  private async createOrVerifyConsumer(stream: string, durable: string, subject: string, deliver: DeliverPolicy, maxAckPending: number, ackWaitMs: number | null): Promise<void> {
    const resource = `NATS consumer ${durable} on stream ${stream}`;
    const existing = await mapped(`look up ${resource}`, async () => {
      try {
        return await this.jsm.consumers.info(stream, durable);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
    const ackWait = nanos(ackWaitMs ?? 30_000);
    if (existing) {
      verifyConsumer(resource, existing, subject, deliver, maxAckPending);
      if (ackWaitMs !== null && existing.config.ack_wait !== ackWait) {
        await mapped(`update ${resource}`, () => this.jsm.consumers.update(stream, durable, { ack_wait: ackWait }));
      }
      return;
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait,
      // Unlimited: the engine counts attempts and dead-letters; a server-side limit would strand the message.
      max_deliver: -1,
      filter_subject: subject,
      deliver_policy: deliver,
      max_ack_pending: maxAckPending,
      max_waiting: 512,
    };
    await mapped(`create ${resource}`, async () => {
      try {
        await this.jsm.consumers.add(stream, config);
      } catch (error) {
        const raced = await this.jsm.consumers.info(stream, durable).catch(() => null);
        if (!raced) throw error;
        verifyConsumer(resource, raced, subject, deliver, maxAckPending);
      }
    });
  }
}

function verifyStream(config: StreamConfig, wanted: WantedStream): void {
  const resource = `NATS stream ${wanted.name}`;
  if (config.retention !== wanted.retention) {
    throw new TopologyConflictError(resource, `its retention is ${config.retention}, Eventloom needs ${wanted.retention}`);
  }
  if (!config.subjects?.includes(wanted.subjects)) {
    throw new TopologyConflictError(resource, `its subjects are ${JSON.stringify(config.subjects ?? [])}, Eventloom needs ${wanted.subjects}`);
  }
  if ((config.description ?? '') !== wanted.description) {
    throw new TopologyConflictError(resource, `it is described as ${JSON.stringify(config.description ?? '')}, this transport expects ${JSON.stringify(wanted.description)} (another partition count?)`);
  }
}

function verifyConsumer(resource: string, info: ConsumerInfo, subject: string, deliver: DeliverPolicy, maxAckPending: number): void {
  const c = info.config;
  const differences: string[] = [];
  if (c.filter_subject !== subject) differences.push(`filter subject ${String(c.filter_subject)} (needs ${subject})`);
  if (c.ack_policy !== AckPolicy.Explicit) differences.push(`ack policy ${c.ack_policy} (needs explicit)`);
  if (c.deliver_policy !== deliver) differences.push(`deliver policy ${c.deliver_policy} (needs ${deliver})`);
  if (maxAckPending === 1 && c.max_ack_pending !== 1) differences.push(`max_ack_pending ${String(c.max_ack_pending)} (a partition needs 1)`);
  if (c.deliver_subject) differences.push('it is a push consumer (needs pull)');
  if (differences.length > 0) throw new TopologyConflictError(resource, differences.join(', '));
}
