/** The in-memory inbox (the reference): records in a map, the handler's writes in a `MemoryTransaction`. */
import { StoreClosedError } from '../../envelope/errors.js';
import {
  assertInboxConsumer,
  assertInboxHandler,
  assertInboxMessage,
  pruneCutoff,
  startPeriodicPrune,
  type Inbox,
  type InboxMessage,
  type InboxOutcome,
  type InboxPruneOptions,
  type InboxRetention,
} from './inbox.js';
import { MemoryTransaction } from './memory-transaction.js';

export interface MemoryInboxOptions {
  /** Prune old records periodically. Default: never (call `prune`). */
  readonly retention?: InboxRetention;
  readonly clock?: () => Date;
}

export function createMemoryInbox(options: MemoryInboxOptions = {}): MemoryInbox {
  return new MemoryInbox(options);
}

export class MemoryInbox implements Inbox<MemoryTransaction> {
  /** consumer → message id → when handled (ms). */
  readonly #records = new Map<string, Map<string, number>>();
  /** Deliveries being handled now, so a concurrent duplicate waits for the first. */
  readonly #inFlight = new Map<string, Promise<InboxOutcome<unknown>>>();
  readonly #clock: () => Date;
  readonly #stopPruning: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(options: MemoryInboxOptions = {}) {
    this.#clock = options.clock ?? (() => new Date());
    this.#stopPruning = options.retention ? startPeriodicPrune((o) => this.prune(o), options.retention, undefined, this.#clock) : undefined;
  }

  async handle<R>(consumer: string, message: InboxMessage, fn: (tx: MemoryTransaction) => Promise<R> | R): Promise<InboxOutcome<R>> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage(message);
    assertInboxHandler(fn);
    const key = JSON.stringify([consumer, message.id]);
    // Like a unique index: a second delivery waits for the first's transaction to end.
    for (let running = this.#inFlight.get(key); running; running = this.#inFlight.get(key)) await running.catch(() => undefined);
    if (this.#recorded(consumer, message.id)) return { duplicate: true };
    const attempt = this.#run(consumer, message.id, fn);
    this.#inFlight.set(key, attempt as Promise<InboxOutcome<unknown>>);
    try {
      return await attempt;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  async #run<R>(consumer: string, messageId: string, fn: (tx: MemoryTransaction) => Promise<R> | R): Promise<InboxOutcome<R>> {
    const tx = new MemoryTransaction();
    try {
      const result = await fn(tx);
      this.#assertOpen();
      let records = this.#records.get(consumer);
      if (!records) this.#records.set(consumer, (records = new Map()));
      records.set(messageId, this.#clock().getTime());
      tx.commit();
      return { duplicate: false, result };
    } catch (error) {
      tx.rollback();
      throw error;
    }
  }

  async has(consumer: string, messageId: string): Promise<boolean> {
    this.#assertOpen();
    assertInboxConsumer(consumer);
    assertInboxMessage({ id: messageId });
    return this.#recorded(consumer, messageId);
  }

  async prune(options: InboxPruneOptions): Promise<number> {
    this.#assertOpen();
    const cutoff = pruneCutoff(options).getTime();
    let removed = 0;
    for (const records of this.#records.values()) {
      for (const [id, at] of records) {
        if (at < cutoff) {
          records.delete(id);
          removed++;
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stopPruning?.();
  }

  #recorded(consumer: string, messageId: string): boolean {
    return this.#records.get(consumer)?.has(messageId) ?? false;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('inbox');
  }
}
