/**
 * The in-memory transport: the reference every other transport is measured against, and the
 * one for tests and single-process apps. Its storage keeps the durable queues' semantics
 * (visibility timeouts, head-of-key claims, delays, retries, dead letters) for as long as the
 * process lives; transports sharing one `MemoryTransportStorage` act like processes sharing a
 * queue database, and `crash()` abandons one the way a killed process would.
 */
import { TransportClosedError } from '../../envelope/errors.js';
import type { Event } from '../../envelope/event.js';
import type { TransportOptions } from '../create-transport.js';
import { DrivenTransport } from '../driven-transport.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterQueue } from '../dead-letters.js';
import type { DeadLetterDraft, PreparedMessage, ReceivedMessage, Receiver, ReceiverOptions, TransportDriver } from '../driver.js';
import type { ConsumeSource, Destination, MessageEnvelope } from '../message.js';
import type { Consumer, ConsumerOptions, MessageHandlers, TransportCapabilities } from '../transport.js';
import type { Entry, Lane } from './lane.js';
import { MemoryTransportStorage } from './memory-storage.js';

export interface MemoryTransportOptions extends TransportOptions {
  /** Share one storage between transports to act like several processes on one queue database. Default: a new one. */
  readonly storage?: MemoryTransportStorage;
  /**
   * `'json'` (default): each delivery gets its own copy of data and metadata, read back from
   * their JSON as a queue table would, so neither sender nor handler can change what another
   * sees. `'shared'`: the sent objects themselves, for the fastest hand-off.
   *
   * `'json'` is the default because this transport stands in for the durable ones in tests: with
   * it, code that reuses or changes a message object after sending it, or a handler that changes
   * what it got (seen by the other groups and by a redelivery), behaves here as it will on
   * SQLite, PostgreSQL or a broker, instead of passing here and failing there. It costs a JSON
   * write per send and a parse per delivery (1 KB messages: ~160k msgs per CPU-second against
   * ~1.4M shared). Choose `'shared'` in a single process whose messages are never changed once
   * sent (treat them as frozen); the checks at send are the same either way.
   */
  readonly isolation?: 'json' | 'shared';
}

const CAPABILITIES: TransportCapabilities = Object.freeze({ cancelScheduled: true });

/**
 * A received message's token is its entry; the entry remembers the delivery it was last claimed
 * for, so a stale message (claimed again since) is told apart without a token object per message.
 */
function claimOf(message: ReceivedMessage): number {
  const entry = message.token as Entry;
  return entry.delivery === message ? entry.claim : -1;
}

/** A `TransportDriver` over a `MemoryTransportStorage`. */
export class MemoryTransportDriver implements TransportDriver {
  readonly kind = 'memory';
  readonly capabilities = CAPABILITIES;
  readonly deadLetters: DeadLetterQueue;
  readonly storage: MemoryTransportStorage;
  /** Sharing the sent objects, nothing reads their JSON; copies are read back from it. */
  readonly needsJson: boolean;
  readonly #isolation: 'json' | 'shared';
  readonly #receivers = new Set<MemoryReceiver>();
  #closed = false;

  constructor(storage: MemoryTransportStorage = new MemoryTransportStorage(), isolation: 'json' | 'shared' = 'json') {
    this.storage = storage;
    this.#isolation = isolation;
    this.needsJson = isolation === 'json';
    const assertOpen = (): void => this.#assertOpen();
    this.deadLetters = {
      list: async (filter?: DeadLetterFilter): Promise<readonly DeadLetter[]> => (assertOpen(), storage.listDeadLetters(filter ?? {})),
      get: async (id: string): Promise<DeadLetter | null> => (assertOpen(), storage.getDeadLetter(id)),
      redrive: async (filter?: DeadLetterFilter): Promise<number> => (assertOpen(), storage.redrive(filter ?? {})),
      purge: async (filter?: DeadLetterFilter): Promise<number> => (assertOpen(), storage.purge(filter ?? {})),
    };
  }

  async enqueue(destination: Destination, messages: readonly PreparedMessage[]): Promise<void> {
    this.#assertOpen();
    // A sender outrunning its consumers yields a turn of the event loop: sends and handling both
    // run on microtasks, and a send that resolved at once let a loop of awaited sends pile up
    // 57,000 messages before the consumer caught up (the GC then cost half the run).
    if (this.storage.enqueue(destination, messages)) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async declare(sources: readonly ConsumeSource[]): Promise<void> {
    this.#assertOpen();
    for (const source of sources) this.storage.lane(source);
  }

  async openReceiver(source: ConsumeSource, options: ReceiverOptions): Promise<Receiver> {
    this.#assertOpen();
    const receiver = new MemoryReceiver(this.storage, this.storage.lane(source), options, this.#isolation, () => this.#receivers.delete(receiver));
    this.#receivers.add(receiver);
    return receiver;
  }

  async cancelScheduled(destination: ConsumeSource | { readonly topic: string }, messageId: string): Promise<boolean> {
    this.#assertOpen();
    return this.storage.cancelScheduled(destination, messageId);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const receiver of this.#receivers) receiver.abandon();
    this.#receivers.clear();
  }

  /** Like a killed process: every receiver stops mid-work, nothing it claimed is released or acked; leases run out. */
  crash(): void {
    for (const receiver of this.#receivers) receiver.abandon();
    this.#receivers.clear();
    this.#closed = true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportClosedError('memory');
  }
}

class MemoryReceiver implements Receiver {
  /** A dead receiver's calls change nothing, as a killed process's would never arrive. */
  #dead = false;

  constructor(
    private readonly storage: MemoryTransportStorage,
    private readonly lane: Lane,
    private readonly options: ReceiverOptions,
    private readonly isolation: 'json' | 'shared',
    private readonly onClose: () => void,
  ) {}

  async receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]> {
    for (;;) {
      if (signal.aborted) return [];
      if (this.#dead) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        return [];
      }
      const entries = this.lane.claim(Math.max(1, max), this, this.options.visibilityTimeoutMs);
      if (entries.length > 0) return entries.map((entry) => this.#received(entry));
      await this.lane.waitForWork(signal);
    }
  }

  async ack(messages: readonly ReceivedMessage[]): Promise<void> {
    if (this.#dead) return;
    for (const message of messages) this.lane.remove(message.token as Entry, claimOf(message));
  }

  async retry(message: ReceivedMessage, delayMs: number, error: string): Promise<'redelivered' | 'hold'> {
    if (this.#dead) return 'redelivered';
    this.lane.retry(message.token as Entry, claimOf(message), delayMs, error);
    return 'redelivered';
  }

  async deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter> {
    if (this.#dead) return { id: '00000000-0000-7000-8000-000000000000', ...draft };
    return this.storage.deadLetter(this.lane, message.token as Entry, claimOf(message), draft);
  }

  async release(messages: readonly ReceivedMessage[]): Promise<void> {
    if (this.#dead) return;
    for (const message of messages) this.lane.release(message.token as Entry, claimOf(message));
  }

  async extend(messages: readonly ReceivedMessage[], ms: number): Promise<void> {
    if (this.#dead) return;
    for (const message of messages) this.lane.extend(message.token as Entry, claimOf(message), ms);
  }

  async close(): Promise<void> {
    this.#dead = true;
    this.onClose();
  }

  abandon(): void {
    this.#dead = true;
  }

  #received(entry: Entry): ReceivedMessage {
    const stored = entry.stored;
    // Literals, not spreads: one shape per kind keeps claims fast.
    const received: ReceivedMessage =
      stored.kind === 'raw'
        ? { token: entry, deliveryCount: entry.deliveryCount, firstFailedAt: entry.firstFailedAt, partitionKey: stored.partitionKey, kind: 'raw', headers: stored.headers, body: stored.body }
        : { token: entry, deliveryCount: entry.deliveryCount, firstFailedAt: entry.firstFailedAt, partitionKey: stored.envelope.partitionKey, kind: 'envelope', envelope: this.#envelope(stored) };
    entry.delivery = received;
    return received;
  }

  #envelope(stored: Exclude<Entry['stored'], { kind: 'raw' }>): MessageEnvelope {
    const { envelope } = stored;
    if (this.isolation === 'shared') return envelope;
    const metadataJson = stored.metadataJson ?? JSON.stringify(envelope.metadata);
    return {
      id: envelope.id,
      type: envelope.type,
      schemaVersion: envelope.schemaVersion,
      time: envelope.time,
      source: envelope.source,
      correlationId: envelope.correlationId,
      causationId: envelope.causationId,
      subject: envelope.subject,
      partitionKey: envelope.partitionKey,
      data: JSON.parse(stored.dataJson ?? JSON.stringify(envelope.data)) as unknown,
      metadata: metadataJson === '{}' ? {} : (JSON.parse(metadataJson) as MessageEnvelope['metadata']),
    };
  }
}

/**
 * The in-memory `Transport`.
 *
 * @example
 * const transport = new MemoryTransport({ source: 'registration' });
 * transport.consume({ topic: 'users', group: 'mailer' }, { UserRegistered: async (m) => sendWelcome(m.data.email) });
 * await transport.publish('users', { type: 'UserRegistered', data: { email: 'ada@example.com' } });
 */
export class MemoryTransport extends DrivenTransport<MemoryTransportDriver> {
  declare readonly kind: 'memory';
  readonly storage: MemoryTransportStorage;
  readonly #consumers = new Set<Consumer>();

  constructor(options: MemoryTransportOptions = {}) {
    const { storage = new MemoryTransportStorage(), isolation = 'json', ...transportOptions } = options;
    super(new MemoryTransportDriver(storage, isolation), transportOptions);
    this.storage = storage;
  }

  /** As every transport's; the consumers are kept for `crash()`. */
  override consume<M extends Event>(source: ConsumeSource, handlers: MessageHandlers<M>, options?: ConsumerOptions): Consumer {
    const consumer = super.consume(source, handlers, options);
    this.#consumers.add(consumer);
    void consumer.done.then(
      () => this.#consumers.delete(consumer),
      () => this.#consumers.delete(consumer),
    );
    return consumer;
  }

  /**
   * Test hook: dies like a killed process. Its consumers stop at once without acking or handing
   * back what they hold (their handlers' signals abort); those messages come back to other
   * transports on the same storage after the visibility timeout, their delivery counted.
   */
  async crash(): Promise<void> {
    this.driver.crash();
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.stop({ drainMs: 0 })));
    await this.close().catch(() => {});
  }

  /** Test hook: puts bytes on `source` as a broker would deliver them (e.g. not a CloudEvent), to see them dead-lettered. */
  injectRaw(source: ConsumeSource, headers: Readonly<Record<string, string>>, body: Uint8Array | string): void {
    this.storage.enqueueRaw(source, headers, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  }
}
