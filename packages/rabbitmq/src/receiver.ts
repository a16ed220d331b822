/**
 * A consumer's side of the broker: one channel, a basic.consume on each of the source's queues
 * (the unkeyed one, then the partitions, single active consumer each), per-consumer prefetch
 * (never global: a global prefetch and a quorum-queue consume close the connection on 3.10).
 * Deliveries wait in a buffer the broker's prefetch bounds until the engine takes them.
 *
 * Lost, the channel is reopened on the next connection; what it held unacked the broker gives
 * to a consumer again (a redelivery, counted by the quorum queue's `x-delivery-count`). Acks of
 * messages from a channel that is gone are dropped: those messages come again.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ConsumeSource, DeadLetter } from '@eventloom/core';
import type { DeadLetterDraft, ReceivedMessage, Receiver, ReceiverOptions } from '@eventloom/core/adapter';
import { closeChannel, type ReconnectingConnection } from './connection.js';
import type { DeadLetterStore } from './dead-letter-store.js';
import { operationError } from './errors.js';
import { ATTEMPTS_HEADER, DELIVER_AT_HEADER, FIRST_FAILED_HEADER, type SourceQueues } from './names.js';
import type { Delays } from './delays.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';
import { KEY_HEADER, numberHeader, republishProperties, stringHeader, stringHeaders } from './wire.js';

/** What the engine holds for a received message: where it came from, on which channel. */
interface Token {
  readonly message: ConsumeMessage;
  readonly queue: string;
  readonly partitioned: boolean;
  readonly channel: ChannelState;
}

interface ChannelState {
  readonly channel: Channel;
  open: boolean;
  /** Delivery tags handed out and not yet acked or given back, in delivery (= tag) order. */
  readonly unsettled: Set<number>;
}

/** Acks or requeues one delivery of `state`'s channel. */
function settle(state: ChannelState, message: ConsumeMessage, requeue?: boolean): void {
  if (!state.open) return;
  state.unsettled.delete(message.fields.deliveryTag);
  if (requeue === undefined) state.channel.ack(message);
  else state.channel.nack(message, false, requeue);
}

/**
 * Acks `messages` of one channel: the longest run that starts at the channel's oldest unsettled
 * delivery goes in one `basic.ack` with `multiple` (it acks nothing else: every older tag is
 * settled), the rest one by one.
 */
function ackAll(state: ChannelState, messages: readonly ConsumeMessage[]): void {
  if (!state.open || messages.length === 0) return;
  const sorted = messages.length === 1 ? messages : [...messages].sort((a, b) => a.fields.deliveryTag - b.fields.deliveryTag);
  let i = 0;
  for (; i < sorted.length; i++) {
    const oldest = state.unsettled.values().next();
    if (oldest.done || oldest.value !== sorted[i]!.fields.deliveryTag) break;
    state.unsettled.delete(oldest.value);
  }
  if (i > 0) state.channel.ack(sorted[i - 1]!, true);
  for (; i < sorted.length; i++) settle(state, sorted[i]!);
}

export interface ReceiverParts {
  readonly connection: ReconnectingConnection;
  readonly topology: Topology;
  readonly publisher: Publisher;
  readonly delays: Delays;
  readonly deadLetters: DeadLetterStore;
  readonly partitions: number;
}

export class AmqpReceiver implements Receiver {
  private state: ChannelState | null = null;
  private opening: Promise<ChannelState> | null = null;
  private buffer: ReceivedMessage[] = [];
  private readonly wakers = new Set<() => void>();
  private closed = false;
  private queues: SourceQueues | null = null;
  private readonly offConnected: () => void;

  constructor(
    private readonly parts: ReceiverParts,
    private readonly source: ConsumeSource,
    private readonly options: ReceiverOptions,
  ) {
    // Reconsume at once on a new connection, so the broker's redeliveries are not kept waiting for the next receive.
    this.offConnected = parts.connection.onConnected(() => {
      if (!this.closed) this.ensureChannel().catch(() => undefined);
    });
  }

  async start(): Promise<void> {
    await this.ensureChannel();
  }

  async receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]> {
    for (;;) {
      if (this.closed || signal.aborted) return [];
      await this.ensureChannel().catch((error: unknown) => {
        throw operationError(error, `consuming ${describe(this.source)}`);
      });
      if (this.buffer.length > 0) return this.buffer.splice(0, Math.max(1, max));
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.wakers.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.wakers.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  async ack(messages: readonly ReceivedMessage[]): Promise<void> {
    // The engine acks in batches; per channel, a run of them is one frame (fewer frames for the broker).
    if (messages.length === 1) {
      const token = messages[0]!.token as Token;
      settle(token.channel, token.message);
      return;
    }
    const byChannel = new Map<ChannelState, ConsumeMessage[]>();
    for (const message of messages) {
      const token = message.token as Token;
      const list = byChannel.get(token.channel);
      if (list) list.push(token.message);
      else byChannel.set(token.channel, [token.message]);
    }
    for (const [state, list] of byChannel) ackAll(state, list);
  }

  async retry(message: ReceivedMessage, delayMs: number, _error: string): Promise<'redelivered' | 'hold'> {
    const token = message.token as Token;
    // A partition's order would break if a message went round a delay queue: the engine retries it in place.
    if (token.partitioned) return 'hold';
    if (!token.channel.open) return 'redelivered';
    const now = Date.now();
    const properties = republishProperties(token.message, {
      [ATTEMPTS_HEADER]: message.deliveryCount,
      [FIRST_FAILED_HEADER]: message.firstFailedAt ?? new Date(now).toISOString(),
    });
    await this.parts.delays.send({ queue: token.queue }, token.message.content, properties, delayMs > 0 ? now + delayMs : null);
    await this.ack([message]);
    return 'redelivered';
  }

  async deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter> {
    const token = message.token as Token;
    const deadLetter = await this.parts.deadLetters.park(token.message, draft);
    await this.ack([message]);
    return deadLetter;
  }

  async release(messages: readonly ReceivedMessage[]): Promise<void> {
    for (const message of messages) {
      const token = message.token as Token;
      settle(token.channel, token.message, true);
    }
  }

  /** Unacked messages stay the consumer's as long as its channel is open; nothing to renew. */
  async extend(_messages: readonly ReceivedMessage[], _ms: number): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offConnected();
    this.wakeAll();
    const state = this.state;
    this.state = null;
    // What is still buffered goes back at once; closing the channel returns anything else unacked.
    if (state?.open) {
      for (const message of this.buffer) settle(state, (message.token as Token).message, true);
      this.buffer = [];
      await closeChannel(state.channel);
    }
  }

  private async ensureChannel(): Promise<ChannelState> {
    if (this.state?.open) return this.state;
    this.opening ??= this.openChannel().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async openChannel(): Promise<ChannelState> {
    this.queues = await this.parts.topology.ensureSource(this.source);
    const { model } = await this.parts.connection.get();
    const channel = await model.createChannel();
    const state: ChannelState = { channel, open: true, unsettled: new Set() };
    channel.on('error', () => undefined);
    channel.on('close', () => {
      state.open = false;
      if (this.state === state) {
        this.state = null;
        // Their deliveries are void: the broker gives them out again.
        this.buffer = this.buffer.filter((m) => (m.token as Token).channel !== state);
        this.wakeAll();
      }
    });
    const queues = this.queues;
    const prefetch = this.options.prefetch;
    // Per consumer: the unkeyed queue may fill the whole prefetch; the partitions share about as much again.
    await channel.prefetch(prefetch, false);
    await channel.consume(queues.unkeyed, (m) => this.deliver(state, m, queues.unkeyed, false), { noAck: false });
    if (queues.partitions.length > 0) {
      await channel.prefetch(Math.max(1, Math.ceil(prefetch / queues.partitions.length)), false);
      for (const queue of queues.partitions) {
        await channel.consume(queue, (m) => this.deliver(state, m, queue, true), { noAck: false });
      }
    }
    if (this.closed) {
      await closeChannel(channel);
      return state;
    }
    this.state = state;
    return state;
  }

  private deliver(state: ChannelState, message: ConsumeMessage | null, queue: string, partitioned: boolean): void {
    // null: the broker cancelled the consumer (queue deleted); the channel is reopened on the next receive.
    if (message === null) {
      state.open = false;
      state.channel.close().catch(() => undefined);
      return;
    }
    state.unsettled.add(message.fields.deliveryTag);
    const deliverAt = numberHeader(message, DELIVER_AT_HEADER);
    if (deliverAt !== undefined && deliverAt > Date.now()) {
      // Rounded down to a delay bucket: wait out the rest in another.
      const properties = republishProperties(message, {}, [ATTEMPTS_HEADER, FIRST_FAILED_HEADER, DELIVER_AT_HEADER]);
      this.parts.delays.send({ queue }, message.content, properties, deliverAt).then(
        () => settle(state, message),
        () => settle(state, message, true),
      );
      return;
    }
    const previous = numberHeader(message, ATTEMPTS_HEADER) ?? 0;
    const returned = numberHeader(message, 'x-delivery-count') ?? (message.fields.redelivered ? 1 : 0);
    const headers = stringHeaders(message);
    const received: ReceivedMessage = {
      token: { message, queue, partitioned, channel: state } satisfies Token,
      deliveryCount: previous + returned + 1,
      firstFailedAt: stringHeader(message, FIRST_FAILED_HEADER) ?? null,
      partitionKey: headers['ce-partitionkey'] === undefined ? (stringHeader(message, KEY_HEADER) ?? null) : percentDecode(headers['ce-partitionkey']),
      kind: 'raw',
      headers,
      body: message.content,
    };
    this.buffer.push(received);
    this.wakeAll();
  }

  private wakeAll(): void {
    // Called per delivery: no copy of the set when nobody waits, which is most of the time under load.
    if (this.wakers.size === 0) return;
    for (const wake of [...this.wakers]) wake();
  }
}

export function describe(source: ConsumeSource): string {
  return 'queue' in source ? `queue '${source.queue}'` : `group '${source.group}' of topic '${source.topic}'`;
}


function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
