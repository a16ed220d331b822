/**
 * Inline handlers run in the middle of a group commit: the connection is inside the transaction
 * that carries several callers' appends. A handler that calls the store's own writes from there
 * (setStreamMetadata, deleteStream, appendToStream, checkpoints, snapshots) would begin a
 * transaction inside that one, or queue work that commits apart from its append — and a failure
 * of such a nested write used to roll back the whole group. Instead the call is refused, and the
 * append whose handler made it fails with that refusal; the rest of the group commits.
 */
import { InvalidArgumentError } from '@eventloom/core';

export class InlineReentry {
  #depth = 0;
  #refused: InvalidArgumentError | undefined;

  /** Runs one handler; throws the refusal if the handler called a store write meanwhile, even if it caught it. */
  run<T>(handler: () => T): T {
    const outer = this.#refused;
    this.#refused = undefined;
    this.#depth++;
    try {
      const result = handler();
      if (this.#refused) throw this.#refused;
      return result;
    } catch (error) {
      throw this.#refused ?? error;
    } finally {
      this.#depth--;
      this.#refused = outer;
    }
  }

  /** Called first by every write of the store: throws (and remembers) when an inline handler is running. */
  refuse(method: string): void {
    if (this.#depth === 0) return;
    const error = new InvalidArgumentError(
      'inline handler',
      `called ${method} on the store. Inline handlers run inside the append's transaction, where the store's own writes ` +
        'are refused, so this append fails. Write through the db the handler is given (it commits with the append), or do this in a subscription',
    );
    this.#refused ??= error;
    throw error;
  }
}
