/**
 * Dead letters in a quorum queue (`<ns>:dead-letters`, or the transport's `deadLetterQueue`):
 * each is the original message — its bytes and headers as received — with the reason, error,
 * attempts and times in the `eventloom-dead-letter` header (JSON). Parked before the original
 * is acked, so a crash in between leaves the message on its queue as well (a duplicate, never a
 * loss). When that message fails again it is parked again: a dead letter's id is derived from
 * the dead-letter queue, the consumer, its source and the message id, so both copies have one
 * id, and listing shows one dead letter (the latest failure); redrive and purge remove every
 * copy. The queue cannot refuse the second copy (RabbitMQ has no deduplication), so this is
 * done where the copies are read.
 *
 * Listing reads the whole queue with basic.get and gives every message back (the channel is
 * closed unacked), one operation at a time per transport. Redrive publishes each chosen dead
 * letter to its source, awaits the confirm, then acks it here: interrupted between the two, it
 * is on its queue and still here (sent again by the next redrive, the same message id, which
 * the inbox absorbs) — never on neither.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Channel, GetMessage, Message } from 'amqplib';
import { InvalidArgumentError, type ConsumeSource, type DeadLetter, type DeadLetterFilter, type DeadLetterQueue } from '@eventloom/core';
import { decodeMessage, type DeadLetterDraft } from '@eventloom/core/adapter';
import { closeChannel, type ReconnectingConnection } from './connection.js';
import { operationError } from './errors.js';
import { DEAD_LETTER_HEADER, queueFor } from './names.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';
import { republishProperties, stringHeaders } from './wire.js';

/** What the header keeps: the draft without the message (the body and headers are the message). */
interface StoredDraft {
  readonly id: string;
  readonly decoded: boolean;
  readonly source: ConsumeSource;
  readonly consumer: string;
  readonly reason: DeadLetter['reason'];
  readonly error: string;
  readonly stack: string | null;
  readonly attempts: number;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
}

// AMQP header tables are at most 64 KiB in amqplib; a stack is cut well below that.
const MAX_ERROR_CHARS = 4_096;
const MAX_STACK_CHARS = 16_384;

export class DeadLetterStore implements DeadLetterQueue {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly topology: Topology,
    private readonly publisher: Publisher,
    private readonly queueName: string,
  ) {}

  /** Parks `message` (as received) with `draft`; resolves once the broker confirmed it. */
  async park(message: Message, draft: DeadLetterDraft): Promise<DeadLetter> {
    await this.topology.ensureDeadLetterQueue();
    const stored: StoredDraft = {
      id: deadLetterId(this.queueName, draft, message),
      decoded: draft.message !== null,
      source: draft.source,
      consumer: draft.consumer,
      reason: draft.reason,
      error: draft.error.slice(0, MAX_ERROR_CHARS),
      stack: draft.stack === null ? null : draft.stack.slice(0, MAX_STACK_CHARS),
      attempts: draft.attempts,
      firstFailedAt: draft.firstFailedAt,
      lastFailedAt: draft.lastFailedAt,
    };
    await this.publisher.publish({
      exchange: '',
      routingKey: this.queueName,
      content: message.content,
      properties: { ...republishProperties(message, { [DEAD_LETTER_HEADER]: JSON.stringify(stored) }), mandatory: true },
    });
    return { ...draft, id: stored.id, error: stored.error, stack: stored.stack };
  }

  list(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter[]> {
    checkFilter(filter);
    return this.serial(async () => {
      const found = await this.scan(filter, async () => 'keep');
      return found.map((f) => f.deadLetter);
    });
  }

  async get(id: string): Promise<DeadLetter | null> {
    if (typeof id !== 'string') throw new InvalidArgumentError('id', 'must be a dead letter id (a string)');
    return (await this.list({ ids: [id] }))[0] ?? null;
  }

  redrive(filter: DeadLetterFilter = {}): Promise<number> {
    checkFilter(filter);
    return this.serial(async () => {
      const done = await this.scan(filter, async (entry) => {
        const queues = await this.topology.ensureSource(entry.deadLetter.source);
        const key = entry.deadLetter.message?.partitionKey ?? entry.deadLetter.raw?.headers['ce-partitionkey'] ?? null;
        await this.publisher.publish({
          exchange: '',
          routingKey: queueFor(queues, key),
          content: entry.amqp.content,
          // Attempts start again: none of Eventloom's headers go along.
          properties: { ...republishProperties(entry.amqp, {}), mandatory: true },
        });
        return 'remove';
      });
      return done.length;
    });
  }

  purge(filter: DeadLetterFilter = {}): Promise<number> {
    checkFilter(filter);
    return this.serial(async () => (await this.scan(filter, async () => 'remove')).length);
  }

  /**
   * Reads every dead letter, oldest first, calls `act` on those matching `filter` (up to its
   * limit), acks those it says to remove; everything else goes back when the channel closes.
   */
  private async scan(
    filter: DeadLetterFilter,
    act: (entry: { deadLetter: DeadLetter; amqp: GetMessage }) => Promise<'keep' | 'remove'>,
  ): Promise<{ deadLetter: DeadLetter }[]> {
    await this.topology.ensureDeadLetterQueue();
    const { model } = await this.connection.get().catch((error: unknown) => {
      throw operationError(error, 'reading the dead letters');
    });
    let channel: Channel | null = null;
    try {
      channel = await model.createChannel();
      channel.on('error', () => undefined);
      // Copies of one dead letter (parked again after a lost ack) share its id: one entry, the latest failure.
      const byId = new Map<string, { deadLetter: DeadLetter; amqp: GetMessage; copies: GetMessage[] }>();
      for (;;) {
        const message = await channel.get(this.queueName, { noAck: false });
        if (message === false) break;
        const deadLetter = readDeadLetter(message);
        if (!deadLetter) continue;
        const known = byId.get(deadLetter.id);
        if (!known) byId.set(deadLetter.id, { deadLetter, amqp: message, copies: [message] });
        else {
          known.copies.push(message);
          if (deadLetter.lastFailedAt >= known.deadLetter.lastFailedAt) Object.assign(known, { deadLetter, amqp: message });
        }
      }
      const all = [...byId.values()];
      all.sort((a, b) => (a.deadLetter.lastFailedAt < b.deadLetter.lastFailedAt ? -1 : a.deadLetter.lastFailedAt > b.deadLetter.lastFailedAt ? 1 : 0));
      const chosen = all.filter((entry) => matches(entry.deadLetter, filter)).slice(0, filter.limit ?? Infinity);
      const acted: { deadLetter: DeadLetter }[] = [];
      for (const entry of chosen) {
        if ((await act(entry)) === 'remove') for (const copy of entry.copies) channel.ack(copy);
        acted.push(entry);
      }
      return acted;
    } catch (error) {
      throw operationError(error, 'reading the dead letters');
    } finally {
      // Closing gives back every message not acked above, in one step.
      if (channel) await closeChannel(channel);
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * The same message parked twice by the same consumer from the same source gets the same id (a
 * UUID built from a SHA-256 of those four); a message without an id (one another client sent
 * without `messageId`) a random one, since nothing says two such copies are one.
 */
export function deadLetterId(queueName: string, draft: Pick<DeadLetterDraft, 'consumer' | 'source'>, message: Pick<Message, 'properties'>): string {
  const messageId: unknown = message.properties.messageId;
  if (typeof messageId !== 'string' || messageId.length === 0) return randomUUID();
  const source = 'queue' in draft.source ? `queue\u0000${draft.source.queue}` : `topic\u0000${draft.source.topic}\u0000${draft.source.group}`;
  const hex = createHash('sha256').update(`${queueName}\u0000${draft.consumer}\u0000${source}\u0000${messageId}`).digest('hex');
  // Version 8 (custom), RFC 9562 variant: a UUID like any other to whoever stores or prints it.
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function readDeadLetter(message: GetMessage): DeadLetter | null {
  const header = (message.properties.headers as Record<string, unknown> | undefined)?.[DEAD_LETTER_HEADER];
  const text = Buffer.isBuffer(header) ? header.toString('utf8') : typeof header === 'string' ? header : null;
  if (text === null) return null;
  let stored: StoredDraft;
  try {
    stored = JSON.parse(text) as StoredDraft;
  } catch {
    return null;
  }
  const headers = stringHeaders(message);
  let envelope: DeadLetter['message'] = null;
  if (stored.decoded) {
    try {
      envelope = decodeMessage(headers, message.content);
    } catch {
      envelope = null;
    }
  }
  return {
    id: stored.id,
    message: envelope,
    raw: envelope === null ? { headers, body: message.content.toString('utf8') } : null,
    source: stored.source,
    consumer: stored.consumer,
    reason: stored.reason,
    error: stored.error,
    stack: stored.stack,
    attempts: stored.attempts,
    firstFailedAt: stored.firstFailedAt,
    lastFailedAt: stored.lastFailedAt,
  };
}

function matches(deadLetter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.ids !== undefined && !filter.ids.includes(deadLetter.id)) return false;
  if (filter.consumer !== undefined && deadLetter.consumer !== filter.consumer) return false;
  if (filter.source !== undefined && !sameSource(deadLetter.source, filter.source)) return false;
  if (filter.type !== undefined && (deadLetter.message?.type ?? deadLetter.raw?.headers['ce-type']) !== filter.type) return false;
  if (filter.reason !== undefined && deadLetter.reason !== filter.reason) return false;
  if (filter.before !== undefined && !(Date.parse(deadLetter.lastFailedAt) <= Date.parse(filter.before))) return false;
  return true;
}

function sameSource(a: ConsumeSource, b: ConsumeSource): boolean {
  if ('queue' in a || 'queue' in b) return 'queue' in a && 'queue' in b && a.queue === b.queue;
  return a.topic === b.topic && a.group === b.group;
}

function checkFilter(filter: DeadLetterFilter): void {
  if (filter === null || typeof filter !== 'object') throw new InvalidArgumentError('filter', 'must be an object like { consumer: "billing" }');
  if (filter.limit !== undefined && (!Number.isInteger(filter.limit) || filter.limit < 0)) {
    throw new InvalidArgumentError('filter.limit', `must be a non-negative integer, got ${String(filter.limit)}`);
  }
  if (filter.before !== undefined && !Number.isFinite(Date.parse(filter.before))) {
    throw new InvalidArgumentError('filter.before', `must be an ISO time, got ${String(filter.before)}`);
  }
}
