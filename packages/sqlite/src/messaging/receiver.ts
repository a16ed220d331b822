/**
 * One consumer's claims on a queue or topic group. A claim is one `UPDATE … RETURNING` in the
 * transport's group commit: it leases up to `max` rows to this receiver for the visibility
 * timeout, so other receivers — in this process or another — skip them until it has passed. A
 * receiver that dies without releasing gives its messages back when their lease runs out.
 */
import { randomUUID } from 'node:crypto';
import { DeliveryLostError, TransportClosedError, type ConsumeSource, type DeadLetter } from '@eventloom/core';
import type { DeadLetterDraft, ReceivedMessage, Receiver, ReceiverOptions } from '@eventloom/core/adapter';
import type { QueueWakeups } from './queue-wakeups.js';
import type { ClaimedRow, QueueStatements } from './queue-statements.js';
import { receivedMessage, sourceColumns, tokenOf } from './rows.js';

export interface ReceiverAccess {
  read<T>(doing: string, work: (statements: QueueStatements) => T): Promise<T>;
  write<T>(doing: string, work: (statements: QueueStatements) => T): Promise<T>;
  readonly wakeups: QueueWakeups;
  /** Longest wait between looks when nothing woke the receiver. */
  readonly pollIntervalMs: number;
  now(): number;
  newId(): string;
  /** Aborted when the transport closes. */
  readonly closed: AbortSignal;
  assertOpen(): void;
}

export class SqliteReceiver implements Receiver {
  /** The lease holder's name: one per receiver, so a delivery's token is only ever this receiver's. */
  readonly #owner = randomUUID();
  readonly #stopped = new AbortController();
  readonly #columns: { destination: string; group: string };
  readonly #what: string;

  constructor(
    private readonly access: ReceiverAccess,
    source: ConsumeSource,
    private readonly options: ReceiverOptions,
  ) {
    this.#columns = sourceColumns(source);
    this.#what = 'queue' in source ? `queue ${source.queue}` : `topic ${source.topic} group ${source.group}`;
  }

  async receive(max: number, signal: AbortSignal): Promise<readonly ReceivedMessage[]> {
    const signals = [signal, this.#stopped.signal, this.access.closed];
    // A closed receiver or transport throws rather than answer [] at once: a caller looping on receive would spin.
    const stopped = (): boolean => {
      if (this.#stopped.signal.aborted || this.access.closed.aborted) throw new TransportClosedError('sqlite');
      return signal.aborted;
    };
    const take = Math.max(1, Math.min(Math.floor(max), this.options.prefetch));
    while (!stopped()) {
      this.access.assertOpen();
      const version = this.access.wakeups.version();
      const look = { ...this.#columns, now: this.access.now() };
      const claimable = await this.access.read(`looking at ${this.#what}`, (s) => s.anyClaimable.get(look));
      if (claimable !== undefined && !stopped()) {
        const rows = await this.access.write(`claiming from ${this.#what}`, (s) => {
          const now = this.access.now();
          return s.claim.all({ ...this.#columns, now, owner: this.#owner, until: now + this.options.visibilityTimeoutMs, max: take }) as ClaimedRow[];
        });
        if (rows.length > 0) {
          rows.sort((a, b) => a[0] - b[0]);
          return rows.map((row) => receivedMessage(row, this.#owner));
        }
        // Another receiver took them first: look again at once.
        continue;
      }
      const next = await this.access.read(`looking at ${this.#what}`, (s) => s.nextAvailable.get(look) as number | undefined);
      const wait = next === undefined ? this.access.pollIntervalMs : Math.min(this.access.pollIntervalMs, next - this.access.now());
      await this.access.wakeups.wait(wait, signals, version);
    }
    return [];
  }

  async ack(messages: readonly ReceivedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.access.write(`acknowledging messages of ${this.#what}`, (s) => {
      for (const message of messages) s.ack.run(tokenOf(message));
    });
  }

  async retry(message: ReceivedMessage, delayMs: number, error: string): Promise<'redelivered' | 'hold'> {
    await this.access.write(`scheduling a retry on ${this.#what}`, (s) => {
      const now = this.access.now();
      s.retry.run({ ...tokenOf(message), visibleAt: now + Math.max(0, delayMs), error, failedAt: new Date(now).toISOString() });
    });
    return 'redelivered';
  }

  async deadLetter(message: ReceivedMessage, draft: DeadLetterDraft): Promise<DeadLetter> {
    const letter: DeadLetter = { id: this.access.newId(), ...draft };
    const { destination, group } = sourceColumns(draft.source);
    const row = {
      id: letter.id,
      destination,
      group,
      consumer: draft.consumer,
      type: draft.message?.type ?? null,
      message: draft.message === null ? null : JSON.stringify(draft.message),
      raw: draft.raw === null ? null : JSON.stringify(draft.raw),
      reason: draft.reason,
      error: draft.error,
      stack: draft.stack,
      attempts: draft.attempts,
      firstFailedAt: draft.firstFailedAt,
      lastFailedAt: draft.lastFailedAt,
    };
    const parked = await this.access.write(`dead-lettering a message of ${this.#what}`, (s) => {
      // Only the delivery still held moves: a receiver whose lease ran out leaves the message to its new holder.
      if (s.takeForDeadLetter.get(tokenOf(message)) === undefined) return false;
      s.insertDeadLetter.run(row);
      return true;
    });
    // Nothing was stored, so there is no record to return: say so (the engine keeps running).
    if (!parked) throw new DeliveryLostError('sqlite', draft.message?.id ?? null, 'dead-lettering');
    return letter;
  }

  async release(messages: readonly ReceivedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.access.write(`releasing messages of ${this.#what}`, (s) => {
      for (const message of messages) s.release.run(tokenOf(message));
    });
  }

  async extend(messages: readonly ReceivedMessage[], ms: number): Promise<void> {
    if (messages.length === 0) return;
    await this.access.write(`extending leases on ${this.#what}`, (s) => {
      const until = this.access.now() + Math.max(0, ms);
      for (const message of messages) s.extend.run({ ...tokenOf(message), until });
    });
  }

  async close(): Promise<void> {
    this.#stopped.abort();
  }
}
