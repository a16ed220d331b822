/**
 * A unit of work for in-memory state: writes are registered with `onCommit` and applied all at
 * once, synchronously, when the transaction commits — so nothing else in the process can see a
 * half of them, and a transaction that throws applies none. It is the `tx` of the memory inbox
 * and the memory outbox, standing in for a database transaction in tests and examples.
 */
import { InvalidArgumentError, TransactionClosedError } from '../../envelope/errors.js';

export class MemoryTransaction {
  readonly #writes: (() => void)[] = [];
  #open = true;

  get open(): boolean {
    return this.#open;
  }

  /** Registers a write; it runs when the transaction commits, never if it rolls back. */
  onCommit(write: () => void): void {
    if (typeof write !== 'function') throw new InvalidArgumentError('write', 'must be a function');
    if (!this.#open) {
      throw new TransactionClosedError('This memory transaction has committed or rolled back: register writes while its function runs, and await them there');
    }
    this.#writes.push(write);
  }

  /** @internal Applies the writes (in order), then closes; run by whoever opened the transaction. */
  commit(): void {
    this.#open = false;
    for (const write of this.#writes.splice(0)) write();
  }

  /** @internal Drops the writes and closes. */
  rollback(): void {
    this.#open = false;
    this.#writes.length = 0;
  }
}

/** Runs `fn` in a new memory transaction: its writes apply when it returns, none when it throws. */
export async function inMemoryTransaction<R>(fn: (tx: MemoryTransaction) => Promise<R> | R): Promise<R> {
  const tx = new MemoryTransaction();
  try {
    const result = await fn(tx);
    tx.commit();
    return result;
  } catch (error) {
    tx.rollback();
    throw error;
  }
}
