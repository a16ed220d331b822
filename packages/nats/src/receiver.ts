/**
 * A receiver on the durable pull consumers of one queue or topic group: one for unkeyed
 * messages, one per partition (max_ack_pending = 1, so one message of a partition is out at a
 * time across every process — per-key order held by the server, also through `nak(delay)`
 * retries, which keep the message pending).
 *
 * Claims never exceed what the engine asked for: every pull request is sized so that messages
 * buffered here plus requests outstanding fit in `max` of the `receive` that made them, so a
 * stalled handler bounds what this process holds (back-pressure), and the rest stays on the
 * server for other consumers.
 */
import { TransportClosedError, TransportUnavailableError } from '@eventloom/core';
import type { ConsumeSource, DeadLetter } from '@eventloom/core';
import type { DeadLetterDraft, ReceivedMessage, Receiver } from '@eventloom/core/adapter';
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { KIND, mapped } from './errors.js';
import { releaseGhostPending } from './ghost-pending.js';
import { GROUP_HEADER, headerValue, messageHeaders, PARTITION_KEY_HEADER } from './headers.js';
import { sleep } from './publisher.js';

interface Slot {
  readonly name: string;
  consumer: Consumer;
  /** When a pull of it last came back empty and its consumer looked behind the stream (stale-state repair). */
  suspectSince: number;
  readonly partition: boolean;
  /** Pull requests open, and the messages they may still bring. */
  active: number;
  outstanding: number;
  /** Stream sequences of this consumer's messages handed out and not yet settled (acked, nak'ed, dead-lettered, or failed at it). */
  readonly held: Set<number>;
}

export interface NatsReceiverSettings {
  readonly source: ConsumeSource;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly unkeyed: string;
  readonly partitions: readonly string[];
  /** How long a pull request waits on the server for messages. */
  readonly pullExpiresMs: number;
  readonly unavailableAfterMs: number;
  readonly deadLetter: (message: JsMsg, draft: DeadLetterDraft) => Promise<DeadLetter>;
  /**
   * Queues only: whether the stream still holds messages of `subject`, and the repair — the
   * consumer recreated (work-queue retention keeps exactly what is not yet acked, so a new
   * consumer delivering all gets exactly those).
   */
  readonly storedOn?: (subject: string) => Promise<number>;
  readonly recreate?: (consumer: string) => Promise<Consumer>;
}

export async function openNatsReceiver(nc: NatsConnection, js: JetStreamClient, settings: NatsReceiverSettings): Promise<NatsReceiver> {
  const slots = await mapped(`open consumers of ${settings.stream}`, () =>
    Promise.all([
      js.consumers.get(settings.stream, settings.unkeyed).then((consumer) => ({ name: settings.unkeyed, consumer, partition: false, suspectSince: 0, active: 0, outstanding: 0, held: new Set<number>() })),
      ...settings.partitions.map((name) => js.consumers.get(settings.stream, name).then((consumer) => ({ name, consumer, partition: true, suspectSince: 0, active: 0, outstanding: 0, held: new Set<number>() }))),
    ]),
  );
  return new NatsReceiver(nc, settings, slots);
}

export class NatsReceiver implements Receiver {
  /** Arrived and not yet handed out, with their headers read once. */
  private readonly stash: Arrived[] = [];
  /** Messages asked of the server by pulls still open and not yet arrived. */
  private outstanding = 0;
  private readonly pulls = new Set<ConsumerMessages>();
  private wake: (() => void) | null = null;
  private rotation = 0;
  private unkeyedSize = 1;
  private planning = false;
  /** Pulls that failed since the last receive reported it: an outage is reported at once (the engine backs off), not only after the bound. */
  private failedPulls = 0;
  private closed = false;
  private lastSuccess = Date.now();
  private lastError: unknown = null;
  private readonly group: string | null;
  private readonly byName: ReadonlyMap<string, Slot>;
  /**
   * When each message first failed here (JetStream keeps no such thing and a message cannot be
   * changed): by stream sequence, forgotten on ack. Another process that gets the message after
   * a retry starts counting from its own first failure.
   */
  private readonly firstFailures = new Map<number, string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: NatsReceiverSettings,
    private readonly slots: readonly Slot[],
  ) {
    this.group = 'group' in settings.source ? settings.source.group : null;
    this.byName = new Map(slots.map((slot) => [slot.name, slot]));
  }

  async receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]> {
    while (!this.closed && !signal.aborted) {
      if (this.nc.isClosed()) throw new TransportClosedError(KIND);
      if (this.stash.length > 0) {
        const out = this.stash.splice(0, Math.max(1, max));
        for (const a of out) this.holding(a.message, 1);
        return out.map((a) => toReceived(a, this.firstFailures.get(a.message.info.streamSequence) ?? null));
      }
      this.issuePulls(max);
      if (this.failedPulls > 0) {
        this.failedPulls = 0;
        throw new TransportUnavailableError(KIND, `pulling from ${this.settings.stream} failed (${describe(this.lastError)}); the client reconnects`, { cause: this.lastError });
      }
      if (this.lastError !== null && Date.now() - this.lastSuccess > this.settings.unavailableAfterMs) {
        const cause = this.lastError;
        this.lastError = null;
        this.lastSuccess = Date.now();
        throw new TransportUnavailableError(KIND, `no answer to pulls on ${this.settings.stream} for ${this.settings.unavailableAfterMs} ms`, { cause });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 500);
        const self = this;
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          if (self.wake === done) self.wake = null;
          resolve();
        }
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return [];
  }

  private issuePulls(max: number): void {
    let budget = max - this.outstanding - this.stash.length;
    if (budget <= 0 || this.nc.isClosed()) return;
    const partitions = this.slots.length - 1;
    if (max < partitions + 1) {
      if (!this.planning) void this.planConstrained(max);
      return;
    }
    for (const slot of this.slots) {
      if (!slot.partition || !pullable(slot) || budget <= 0) continue;
      this.pull(slot, 1, this.settings.pullExpiresMs);
      budget--;
    }
    // Unkeyed pulls grow while they fill (1, 2, 4… up to the room left) and shrink when they
    // expire part-empty: a big pull waiting on an idle subject would hold the budget a key's
    // next message needs until it expires.
    const unkeyed = this.slots.find((slot) => !slot.partition)!;
    const room = Math.min(budget, max - partitions - unkeyed.outstanding, this.unkeyedSize);
    if (pullable(unkeyed) && room > 0) this.pull(unkeyed, room, this.settings.pullExpiresMs);
  }

  /**
   * Fewer messages wanted than consumers idle (a small prefetch): ask the server which consumers
   * have messages waiting and pull from those; when none has, poll briefly in rotation.
   */
  private async planConstrained(max: number): Promise<void> {
    this.planning = true;
    try {
      const idle = this.slots.filter(pullable);
      const infos = await Promise.all(idle.map((slot) => slot.consumer.info(false).catch(() => null)));
      let budget = max - this.outstanding - this.stash.length;
      if (budget <= 0 || this.closed) return;
      const waiting = idle
        .map((slot, i) => ({ slot, pending: infos[i]?.num_pending ?? 0, held: infos[i]?.num_ack_pending ?? 0 }))
        .filter((s) => s.pending > 0 && (!s.slot.partition || s.held === 0))
        .sort((a, b) => b.pending - a.pending);
      if (waiting.length > 0) {
        for (const { slot, pending } of waiting) {
          if (budget <= 0) break;
          const n = slot.partition ? 1 : Math.min(budget, pending);
          this.pull(slot, n, this.settings.pullExpiresMs);
          budget -= n;
        }
        return;
      }
      // Nothing waiting: poll the next consumers in rotation for a second (a retry's nak or a new message may come anywhere).
      const count = idle.length;
      for (let i = 0; i < Math.min(budget, count); i++) this.pull(idle[(this.rotation + i) % count]!, 1, 1_000);
      this.rotation = (this.rotation + Math.min(budget, count)) % Math.max(1, count);
    } finally {
      this.planning = false;
    }
  }

  private pull(slot: Slot, n: number, expires: number): void {
    this.outstanding += n;
    slot.outstanding += n;
    slot.active++;
    let arrived = 0;
    let settled = false;
    let messages: ConsumerMessages | null = null;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      this.outstanding -= n - arrived;
      slot.outstanding -= n - arrived;
      slot.active--;
      this.wake?.();
    };
    // A pull that outlives its expiry by far (seen across a server restart) is given up, or its
    // consumer — a partition — would never be pulled again. A message still arriving for it is
    // taken all the same; a lost one comes back after AckWait.
    const watchdog = setTimeout(() => {
      this.lastError ??= new Error(`a pull on ${slot.name} did not end ${expires} ms after its expiry`);
      void messages?.close().catch(() => undefined);
      settle();
    }, expires * 2 + 2_000);
    void (async () => {
      try {
        messages = await slot.consumer.fetch({ max_messages: n, expires });
        this.pulls.add(messages);
        try {
          for await (const message of messages) {
            if (!settled) {
              arrived++;
              this.outstanding--;
              slot.outstanding--;
            }
            this.accept(message);
          }
        } finally {
          this.pulls.delete(messages);
        }
        this.lastSuccess = Date.now();
        this.lastError = null;
        if (!slot.partition) this.unkeyedSize = arrived === n ? Math.min(n * 2, 65_536) : Math.max(1, arrived);
        if (arrived === 0 && !settled) void this.checkStale(slot);
      } catch (error) {
        this.lastError = error;
        this.failedPulls++;
        await sleep(200);
      } finally {
        settle();
      }
    })();
  }

  /**
   * Two states a kill -9 of nats-server 2.9 can leave a consumer in, looked for when a pull of
   * it comes back empty:
   * - a partition whose one pending message is a ghost (see `ghost-pending.ts`): it would never
   *   deliver again; the ghost is acked away. Queues and topic groups alike.
   * - a work-queue stream keeping messages that its consumer no longer counted (num_pending 0,
   *   num_ack_pending 0, messages on its subject): they would never be delivered. A consumer seen
   *   so twice, a pull apart, is recreated (queues only: a topic group's consumer made again
   *   would start at new messages).
   */
  private async checkStale(slot: Slot): Promise<void> {
    if (this.closed || slot.held.size > 0) return;
    const { storedOn, recreate } = this.settings;
    try {
      const info = await slot.consumer.info(false);
      if (slot.partition && info.num_ack_pending > 0) {
        if (await releaseGhostPending(this.nc, this.settings.jsm, info)) {
          this.repairs++;
          this.wake?.();
        }
        return;
      }
      if (!storedOn || !recreate) return;
      const subject = info.config.filter_subject;
      if (!subject || info.num_pending > 0 || info.num_ack_pending > 0 || (await storedOn(subject)) === 0) {
        slot.suspectSince = 0;
        return;
      }
      if (slot.suspectSince === 0) {
        slot.suspectSince = Date.now();
        return;
      }
      slot.suspectSince = 0;
      slot.consumer = await recreate(slot.name);
      this.repairs++;
      this.wake?.();
    } catch {
      // A look that failed proves nothing; the next empty pull looks again.
    }
  }

  /** Consumers repaired after a restart left them stuck (see `checkStale`). */
  repairs = 0;

  /** Counts a message of a partition as out (+1) or settled (-1), and pulls again once it is settled. */
  private holding(message: JsMsg, delta: 1 | -1): void {
    const slot = this.byName.get(message.info.consumer);
    if (!slot) return;
    if (delta > 0) slot.held.add(message.info.streamSequence);
    else if (slot.held.delete(message.info.streamSequence)) this.wake?.();
  }

  private accept(message: JsMsg): void {
    if (this.closed) {
      message.nak();
      return;
    }
    const headers = messageHeaders(message);
    const target = headers[GROUP_HEADER];
    if (target && this.group !== null && target !== this.group) {
      // Redriven to another group of this topic: not ours; acked so this group's partition moves on.
      message.ack();
      return;
    }
    this.stash.push({ message, headers });
    this.wake?.();
  }

  async ack(messages: readonly ReceivedMessage[]): Promise<void> {
    const confirmed: Promise<boolean>[] = [];
    for (const m of messages) {
      const message = m.token as JsMsg;
      this.firstFailures.delete(message.info.streamSequence);
      // A partition's ack is confirmed before its next pull: the server applies acks after
      // pulls that arrive right behind them, and on 2.9 a pull that found max_ack_pending
      // reached waits out its expiry even once the ack lands (5 s stalls per key otherwise).
      if (this.byName.get(message.info.consumer)?.partition) {
        const acked = message.ackAck({ timeout: 5_000 });
        acked.catch(() => undefined);
        confirmed.push(acked);
      } else message.ack();
    }
    try {
      // Unkeyed acks go out as the raw client's do, unconfirmed: one lost in a disconnect means
      // a redelivery (at least once), and waiting for the server here would keep the engine's
      // prefetch slots busy for a round trip per batch.
      if (this.nc.isClosed()) throw new TransportClosedError(KIND);
      if (confirmed.length > 0) await mapped(`ack on ${this.settings.stream}`, () => Promise.all(confirmed));
    } finally {
      // Settled either way: an ack that was lost comes back as a redelivery after AckWait, which needs a pull.
      for (const m of messages) this.holding(m.token as JsMsg, -1);
    }
  }

  async retry(message: ReceivedMessage, delayMs: number): Promise<'redelivered' | 'hold'> {
    const token = message.token as JsMsg;
    if (!this.firstFailures.has(token.info.streamSequence)) {
      if (this.firstFailures.size >= 100_000) this.firstFailures.delete(this.firstFailures.keys().next().value!);
      this.firstFailures.set(token.info.streamSequence, message.firstFailedAt ?? new Date().toISOString());
    }
    // nak keeps the message pending: on a partition nothing after it is delivered meanwhile.
    token.nak(Math.max(0, Math.round(delayMs)));
    try {
      await this.flush('nak');
    } finally {
      this.holding(token, -1);
    }
    return 'redelivered';
  }

  async deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter> {
    const token = message.token as JsMsg;
    try {
      const stored = await this.settings.deadLetter(token, draft);
      token.ack();
      this.firstFailures.delete(token.info.streamSequence);
      await this.flush('ack');
      return stored;
    } finally {
      this.holding(token, -1);
    }
  }

  async release(messages: readonly ReceivedMessage[]): Promise<void> {
    for (const m of messages) (m.token as JsMsg).nak();
    try {
      await this.flush('nak');
    } finally {
      for (const m of messages) this.holding(m.token as JsMsg, -1);
    }
  }

  async extend(messages: readonly ReceivedMessage[]): Promise<void> {
    // AckWait restarts in full: JetStream cannot extend by an arbitrary amount.
    for (const m of messages) (m.token as JsMsg).working();
    await this.flush('working');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const left = this.stash.splice(0);
    for (const a of left) a.message.nak();
    await Promise.all([...this.pulls].map((p) => p.close().catch(() => undefined)));
    if (left.length > 0) await this.flush('nak').catch(() => undefined);
  }

  private async flush(what: string): Promise<void> {
    if (this.nc.isClosed()) throw new TransportClosedError(KIND);
    await mapped(`${what} on ${this.settings.stream}`, () => this.nc.flush());
  }
}

/**
 * Whether to open a pull on this consumer now. A partition only when nothing of it is out: on
 * 2.9 a pull waiting while max_ack_pending is reached is not served when the ack comes, only
 * after it expires (measured: 5 s stalls per message of a key).
 */
function pullable(slot: Slot): boolean {
  return slot.partition ? slot.active === 0 && slot.held.size === 0 : slot.active < 2;
}

interface Arrived {
  readonly message: JsMsg;
  readonly headers: Record<string, string>;
}

function toReceived({ message, headers }: Arrived, firstFailedAt: string | null): ReceivedMessage {
  return {
    token: message,
    deliveryCount: message.info.deliveryCount,
    firstFailedAt,
    partitionKey: percentDecoded(headerValue(headers, PARTITION_KEY_HEADER)),
    kind: 'raw',
    headers,
    body: message.data,
  };
}

/** The codec percent-encodes header values (the CloudEvents HTTP binding's rule). */
function percentDecoded(value: string | undefined): string | null {
  if (value === undefined) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
