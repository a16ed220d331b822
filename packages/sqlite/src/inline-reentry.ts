/**
 * Inline handlers run in the middle of a group commit: the connection is inside the transaction
 * that carries several callers' appends. A handler that calls the store's own writes from there
 * (setStreamMetadata, deleteStream, appendToStream, checkpoints, snapshots) would begin a
 * transaction inside that one, or queue work that commits apart from its append — and a failure
 * of such a nested write used to roll back the whole group. Instead the call is refused, and the
 * append whose handler made it fails with that refusal; the rest of the group commits.
 *
 * Handlers await, and other callers' code runs meanwhile: "inside a handler" is the handler's own
 * async context (AsyncLocalStorage), not a moment in time, so only the handler's calls are refused.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError } from '@eventloom/core';

interface Running {
  active: boolean;
  refused: InvalidArgumentError | undefined;
}

export class InlineReentry {
  readonly #context = new AsyncLocalStorage<Running>();

  /** Runs one handler; throws the refusal if the handler called a store write meanwhile, even if it caught it. */
  async run<T>(handler: () => T | Promise<T>): Promise<T> {
    const running: Running = { active: true, refused: undefined };
    try {
      const result = await this.#context.run(running, handler);
      if (running.refused) throw running.refused;
      return result;
    } catch (error) {
      throw running.refused ?? error;
    } finally {
      running.active = false;
    }
  }

  /** Called first by every write of the store: throws (and remembers) when called from a running inline handler. */
  refuse(method: string): void {
    const running = this.#context.getStore();
    if (running === undefined || !running.active) return;
    const error = new InvalidArgumentError(
      'inline handler',
      `called ${method} on the store. Inline handlers run inside the append's transaction, where the store's own writes ` +
        'are refused, so this append fails. Write through the db the handler is given (it commits with the append), or do this in a subscription',
    );
    running.refused ??= error;
    throw error;
  }
}
