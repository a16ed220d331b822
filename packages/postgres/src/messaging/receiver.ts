/**
 * A consumer's end of a queue or topic group. A claim is committed on its own: the rows' lease
 * (`visible_at` moved to the lease's end) is what keeps other consumers off, so no transaction
 * stays open while a handler runs, and a consumer that dies simply stops renewing. Each answer
 * (ack, retry, dead-letter, release, extend) is fenced by the attempt count the claim saw: after
 * an expired lease was claimed again by another consumer, the first consumer's late answer
 * changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { DeliveryLostError, type ConsumeSource, type DeadLetter, type MessageEnvelope } from '@eventloom/core';
import type { DeadLetterDraft, ReceivedMessage, Receiver, ReceiverOptions } from '@eventloom/core/adapter';
import { Coalescer } from './coalescer.js';
import { describeSource } from './destinations.js';
import { deadLetterFromRow, type DeadLetterRow } from './dead-letter-queue.js';
import { query, type QueueDatabase } from './queue-database.js';
import type { Waker } from '../waker.js';
import type { QueueStatements } from './statements.js';

/** How long an idle receiver waits without a wake-up before it looks again (a lost NOTIFY, a clock step). */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;

export interface Token {
  readonly destination: string;
  readonly seq: bigint;
  readonly attempts: number;
  readonly keyed: boolean;
}

export interface ReceiverParts {
  readonly db: QueueDatabase;
  readonly statements: QueueStatements;
  readonly waker: Waker;
  readonly pollIntervalMs: number;
  /** Acks of all this transport's receivers, sharing statements and commits. */
  readonly acks: Coalescer<Token>;
}

/** The acks' statement: the removal of many receivers' messages at once. */
export function ackCoalescer(db: QueueDatabase, statements: QueueStatements, waker: Waker): Coalescer<Token> {
  return new Coalescer<Token>(async (tokens) => {
    await db.rows(`acknowledging ${tokens.length} messages`, statements.ack, [
      tokens.map((t) => t.destination),
      tokens.map((t) => t.seq.toString()),
      tokens.map((t) => t.attempts),
    ]);
    // A key's next message became claimable: this process's other receivers may take it now.
    if (tokens.some((t) => t.keyed)) waker.committed();
  }, MAX_ACKS_PER_STATEMENT);
}

const MAX_ACKS_PER_STATEMENT = 1_000;

function tokenOf(message: ReceivedMessage): Token {
  return message.token as Token;
}

function columns(messages: readonly ReceivedMessage[]): [string[], string[], number[]] {
  const tokens = messages.map(tokenOf);
  return [tokens.map((t) => t.destination), tokens.map((t) => t.seq.toString()), tokens.map((t) => t.attempts)];
}

export class PostgresReceiver implements Receiver {
  readonly #owner = randomUUID();
  readonly #closing = new AbortController();

  constructor(
    private readonly parts: ReceiverParts,
    private readonly source: ConsumeSource,
    private readonly destination: string,
    private readonly options: ReceiverOptions,
  ) {
    parts.waker.listen();
  }

  async receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]> {
    const { db, statements, waker, pollIntervalMs } = this.parts;
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    const label = `receiving from ${describeSource(this.source)}`;
    while (!stop.aborted) {
      if (this.#closing.signal.aborted) break;
      const generation = waker.generation;
      const next = await db.withClient(label, async (client) => {
        const rows = await query(client, statements.claim, [this.destination, Math.max(1, max), this.#owner, this.options.visibilityTimeoutMs]);
        if (rows.length > 0) return rows;
        const [[ms]] = (await query(client, statements.nextVisible, [this.destination])) as [[number | null]];
        return ms;
      });
      if (Array.isArray(next)) return this.#received(next);
      const wait = next === null ? pollIntervalMs : Math.min(pollIntervalMs, Math.max(0, Math.ceil(next)));
      await waker.wait(generation, wait, stop);
    }
    // Closed (or abandoned as in a crash): hand out nothing, but do not answer at once either, or
    // a caller that asks again in a loop would spin without ever yielding to its timers.
    if (this.#closing.signal.aborted && !signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    return [];
  }

  #received(rows: unknown[][]): ReceivedMessage[] {
    return rows
      .map((row) => {
        const [seq, attempts, firstFailedAt, partitionKey, envelope] = row as [bigint, number, string | null, string | null, string];
        const token: Token = { destination: this.destination, seq, attempts, keyed: partitionKey !== null };
        return {
          token,
          deliveryCount: attempts,
          firstFailedAt,
          partitionKey,
          kind: 'envelope' as const,
          envelope: JSON.parse(envelope) as MessageEnvelope,
        };
      })
      .sort((a, b) => (a.token.seq < b.token.seq ? -1 : a.token.seq > b.token.seq ? 1 : 0));
  }

  async ack(messages: readonly ReceivedMessage[]): Promise<void> {
    await this.parts.acks.add(messages.map(tokenOf));
  }

  async retry(message: ReceivedMessage, delayMs: number, error: string): Promise<'redelivered' | 'hold'> {
    const { destination, seq, attempts } = tokenOf(message);
    await this.parts.db.rows(`scheduling a retry on ${describeSource(this.source)}`, this.parts.statements.retry, [
      destination,
      seq.toString(),
      attempts,
      Math.max(0, Math.round(delayMs)),
      error,
    ]);
    return 'redelivered';
  }

  async deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter> {
    const { destination, seq, attempts } = tokenOf(message);
    const envelope = draft.message ?? (message.kind === 'envelope' ? message.envelope : null);
    const envelopeJson = envelope ? JSON.stringify(envelope) : null;
    const rawJson = draft.raw ? JSON.stringify(draft.raw) : null;
    const rows = await this.parts.db.rows(`dead-lettering a message of ${describeSource(this.source)}`, this.parts.statements.deadLetter, [
      destination,
      seq.toString(),
      attempts,
      JSON.stringify(draft.source),
      draft.consumer,
      envelope?.id ?? null,
      envelope?.type ?? null,
      message.partitionKey,
      draft.reason,
      draft.error,
      draft.stack,
      draft.attempts,
      draft.firstFailedAt,
      draft.lastFailedAt,
      envelopeJson,
      rawJson,
    ]);
    const id = rows[0]?.[0] as string | undefined;
    // Fenced out (the lease ran out and the message was claimed again): nothing was parked or removed.
    if (id === undefined) throw new DeliveryLostError('postgres', envelope?.id ?? null, 'dead-lettering');
    if (message.partitionKey !== null) this.parts.waker.committed();
    // As `deadLetters.get(id)` will read it back: the stored JSON, parsed.
    const row: DeadLetterRow = [id, draft.source, draft.consumer, draft.reason, draft.error, draft.stack, draft.attempts, draft.firstFailedAt, draft.lastFailedAt, envelopeJson, rawJson];
    return deadLetterFromRow(row);
  }

  async release(messages: readonly ReceivedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.parts.db.rows(`releasing ${messages.length} messages of ${describeSource(this.source)}`, this.parts.statements.release, columns(messages));
    this.parts.waker.committed();
  }

  async extend(messages: readonly ReceivedMessage[], ms: number): Promise<void> {
    if (messages.length === 0) return;
    await this.parts.db.rows(`extending the lease of ${messages.length} messages of ${describeSource(this.source)}`, this.parts.statements.extend, [
      ...columns(messages),
      Math.max(0, Math.round(ms)),
    ]);
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }
}
