/**
 * The NATS JetStream transport driver: the broker half of the transport contract. Core's engine
 * (`createTransport`) does dispatch, decoding, retries, per-key order inside a process and
 * back-pressure; this file maps queues, topics, groups, partitions, delays and dead letters onto
 * streams and durable pull consumers (see the package README for the mapping).
 */
import { InvalidArgumentError, TransportClosedError, type ConsumeSource, type DeadLetter, type Destination, type TransportCapabilities } from '@eventloom/core';
import { encodeMessage, type PreparedMessage, type Receiver, type ReceiverOptions, type TransportDriver } from '@eventloom/core/adapter';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsDeadLetters } from './dead-letters.js';
import { isNotFound, KIND, mapped } from './errors.js';
import { DELIVER_AT_HEADER, GROUP_HEADER, headerValue, PARTITION_KEY_HEADER, TARGET_HEADER } from './headers.js';
import { delayStream, destinationStream, partitionOf, sourceStream, type StreamNames } from './names.js';
import { resolveOptions, type NatsTransportOptions, type ResolvedNatsOptions } from './options.js';
import { Publisher, type OutgoingWire } from './publisher.js';
import { openNatsReceiver } from './receiver.js';
import { DelayScheduler, SCHEDULER_CONSUMER } from './scheduler.js';
import { Topology } from './topology.js';

const encoder = new TextEncoder();

export class NatsTransportDriver implements TransportDriver {
  readonly kind = KIND;
  readonly capabilities: TransportCapabilities = { cancelScheduled: true };
  readonly deadLetters: NatsDeadLetters;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly scheduler: DelayScheduler;
  private readonly receivers = new Set<Receiver>();
  private closed = false;

  /** Connects (the client reconnects by itself afterwards, with backoff, for as long as it takes). */
  static async connect(options: NatsTransportOptions): Promise<NatsTransportDriver> {
    const resolved = resolveOptions(options);
    const nc = await mapped(`connect to ${resolved.servers.join(', ')}`, () =>
      connect({
        name: 'eventloom',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 250,
        // No stack captured per request in case it times out (an Error built for every publish
        // and pull: 11 % of a publish+consume profile); NATS errors are mapped to Eventloom's anyway.
        noAsyncTraces: true,
        ...resolved.connection,
        servers: resolved.servers,
      }),
    );
    try {
      const jsm = await mapped('open JetStream (is the server started with -js?)', () => jetstreamManager(nc));
      return new NatsTransportDriver(nc, jetstream(nc), jsm, resolved);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  private constructor(
    /** The client connection; exposed for tests and tools, not for sending. */
    readonly connection: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly options: ResolvedNatsOptions,
  ) {
    this.topology = new Topology(jsm, {
      prefix: options.prefix,
      partitions: options.partitions,
      replicas: options.replicas,
      duplicateWindowMs: options.duplicateWindowMs,
      topicMaxAgeMs: options.topicMaxAgeMs,
    });
    this.publisher = new Publisher(
      connection,
      { window: options.publishWindow, unavailableAfterMs: options.unavailableAfterMs, ackTimeoutMs: Math.min(5_000, options.unavailableAfterMs) },
      // A publish nobody answers may be a stream deleted behind our back: look again before the retry.
      async (subject) => this.forgetStreamOf(subject),
    );
    this.deadLetters = new NatsDeadLetters(js, jsm, this.publisher, {
      prefix: options.prefix,
      ensureStream: () => this.topology.ensureDeadLetterStream(),
      redeliver: (deadLetter, msgId) => this.redeliver(deadLetter, msgId),
    });
    const delays = delayStream(options.prefix);
    this.scheduler = new DelayScheduler(
      js,
      delays.stream,
      this.publisher,
      async () => {
        await this.topology.ensureDelayStream();
        await this.topology.ensurePlainConsumer(delays.stream, SCHEDULER_CONSUMER, delays.subjects, 30_000);
      },
      () => undefined,
    );
  }

  async enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const names = destinationStream(this.options.prefix, destination);
    const delays = delayStream(this.options.prefix);
    const now = Date.now();
    const maxPayload = this.connection.info?.max_payload ?? 1_048_576;
    let delayed = false;
    const wire: OutgoingWire[] = messages.map((message, index) => {
      const encoded = encodeMessage(message.envelope, { dataJson: message.dataJson, metadataJson: message.metadataJson });
      const size = encoded.body.byteLength + Object.entries(encoded.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
      if (size > maxPayload - 1_024) {
        throw new InvalidArgumentError(`messages[${index}]`, `is ${size} bytes on the wire; this NATS server takes at most ${maxPayload} bytes per message (max_payload)`);
      }
      const subject = this.subjectFor(names, message.envelope.partitionKey);
      if (message.deliverAt !== null && message.deliverAt.getTime() > now) {
        delayed = true;
        return {
          subject: delays.subject(message.envelope.id),
          headers: { ...encoded.headers, [TARGET_HEADER]: subject, [DELIVER_AT_HEADER]: message.deliverAt.toISOString() },
          body: encoded.body,
          msgId: message.envelope.id,
        };
      }
      return { subject, headers: encoded.headers, body: encoded.body, msgId: message.envelope.id };
    });
    await this.topology.ensureDestinationStream(names);
    if (delayed) {
      await this.topology.ensureDelayStream();
      this.scheduler.start();
    }
    await this.publisher.publishAll(wire);
  }

  async declare(sources: readonly ConsumeSource[]): Promise<void> {
    this.assertOpen();
    await Promise.all(sources.map((source) => this.topology.ensureSource(source, null)));
  }

  async openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver> {
    this.assertOpen();
    const topology = await this.topology.ensureSource(source, options.visibilityTimeoutMs);
    this.scheduler.start();
    const receiver = await openNatsReceiver(this.connection, this.js, {
      source,
      jsm: this.jsm,
      stream: topology.stream,
      unkeyed: topology.unkeyed,
      partitions: topology.partitions,
      pullExpiresMs: 5_000,
      unavailableAfterMs: this.options.unavailableAfterMs,
      deadLetter: (message, draft) => this.deadLetters.add(message, draft),
      ...('queue' in source && {
        storedOn: async (subject: string) => {
          const info = await this.jsm.streams.info(topology.stream, { subjects_filter: subject });
          return info.state.subjects?.[subject] ?? 0;
        },
        recreate: async (consumer: string) => {
          await this.jsm.consumers.delete(topology.stream, consumer).catch(() => false);
          this.topology.forget(topology.stream);
          await this.topology.ensureSource(source, options.visibilityTimeoutMs);
          return this.js.consumers.get(topology.stream, consumer);
        },
      }),
    });
    this.receivers.add(receiver);
    const close = receiver.close.bind(receiver);
    receiver.close = async () => {
      this.receivers.delete(receiver);
      await close();
    };
    return receiver;
  }

  async cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    this.assertOpen();
    const names = 'queue' in destination ? sourceStream(this.options.prefix, destination) : destinationStream(this.options.prefix, { kind: 'topic', name: destination.topic });
    const delays = delayStream(this.options.prefix);
    if (!/^[0-9A-Za-z-]{1,64}$/.test(messageId)) return false;
    await this.topology.ensureDelayStream();
    return mapped('cancel a scheduled message', async () => {
      let stored;
      try {
        stored = await this.jsm.streams.getMessage(delays.stream, { last_by_subj: delays.subject(messageId) });
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
      if (!stored) return false;
      const target = stored.header.get(TARGET_HEADER);
      if (!target.startsWith(names.subjects.slice(0, -1))) return false;
      try {
        return await this.jsm.streams.deleteMessage(delays.stream, stored.seq, false);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.receivers].map((r) => r.close().catch(() => undefined)));
    await this.scheduler.stop();
    this.publisher.close();
    await this.connection.close().catch(() => undefined);
  }

  /** Drops the connection without acks or releases, as a killed process does (tests). */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.connection.close().catch(() => undefined);
    await this.scheduler.stop();
  }

  private assertOpen(): void {
    if (this.closed || this.connection.isClosed()) throw new TransportClosedError(KIND);
  }

  private subjectFor(names: StreamNames, partitionKey: string | null): string {
    return partitionKey === null ? names.unkeyedSubject : names.partitionSubject(partitionOf(partitionKey, this.options.partitions));
  }

  private async redeliver(deadLetter: DeadLetter, msgId: string): Promise<void> {
    const source = deadLetter.source;
    const names = sourceStream(this.options.prefix, source);
    await this.topology.ensureSource(source, null);
    let headers: Record<string, string>;
    let body: Uint8Array;
    let partitionKey: string | null;
    if (deadLetter.message) {
      const encoded = encodeMessage(deadLetter.message);
      headers = { ...encoded.headers };
      body = encoded.body;
      partitionKey = deadLetter.message.partitionKey;
    } else {
      // The broker's own headers (Nats-Msg-Id…) were the old delivery's; the redrive sets its own.
      headers = Object.fromEntries(Object.entries(deadLetter.raw?.headers ?? {}).filter(([key]) => !/^nats-/i.test(key)));
      body = encoder.encode(deadLetter.raw?.body ?? '');
      const raw = headerValue(headers, PARTITION_KEY_HEADER);
      partitionKey = raw === undefined ? null : safeDecode(raw);
    }
    if ('group' in source) headers[GROUP_HEADER] = source.group;
    await this.publisher.publishAll([{ subject: this.subjectFor(names, partitionKey), headers, body, msgId }]);
  }

  private forgetStreamOf(subject: string): void {
    const [prefix, letter, token] = subject.split('.');
    if (prefix && letter && token) this.topology.forget(`${prefix}_${letter}_${token}`);
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
