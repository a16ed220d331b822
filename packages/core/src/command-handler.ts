/**
 * The command handler: load (from a snapshot when there is one), decide, append with the
 * expected version, and on a conflict decide again on fresh state — a bounded number of times.
 */
import type { Command } from './command.js';
import { decisionEvents, type Decider } from './decider.js';
import { ConcurrencyRetriesExhaustedError, InvalidArgumentError, WrongExpectedVersionError } from './errors.js';
import type { Event, EventToAppend, Position, RecordedEvent, StreamVersion } from './event.js';
import type { EventStore, ExpectedVersion } from './event-store.js';
import { loadState, type SnapshotPolicy } from './load-state.js';
import { backoffDelay, resolveRetryPolicy, type ResolvedRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { assertStreamId } from './stream-id.js';
import { uuidv7 } from './uuid.js';

export interface CommandHandlerOptions<S> {
  /** Retries after a concurrency conflict. */
  readonly retry?: RetryPolicy;
  readonly snapshots?: SnapshotPolicy<S>;
  /** Told when saving a snapshot fails; the command itself has succeeded. Default: a console warning. */
  readonly onSnapshotError?: (error: unknown, streamId: string) => void;
}

export interface HandleOptions {
  /**
   * The version the caller saw (e.g. from an ETag). With it there is no retry: a conflict means
   * the caller's view is stale, and `WrongExpectedVersionError` is thrown at once.
   */
  readonly expectedVersion?: ExpectedVersion;
}

export interface CommandResult<E extends Event, S> {
  readonly streamId: string;
  /** State after the command's events. */
  readonly state: S;
  /** What the command recorded (empty when `decide` returned no events). */
  readonly events: readonly RecordedEvent<E>[];
  /** The stream's version after the command. */
  readonly nextExpectedVersion: StreamVersion;
  /** Global position of the last event recorded, or null when nothing was recorded. */
  readonly position: Position | null;
  /** 1 unless conflicts made the handler decide again. */
  readonly attempts: number;
}

/**
 * Handles commands for one kind of stream with a decider (or a class aggregate through
 * `aggregateDecider`). Whatever it appends inherits the command's correlation id and takes the
 * command's id as causation id.
 *
 * @example
 * const orders = new CommandHandler(store, orderDecider, { snapshots: { store: snapshots, every: 100, schemaVersion: 1 } });
 * const { state, position } = await orders.handle('order-123', { type: 'PayOrder', data: { amount: 99 } });
 */
export class CommandHandler<C extends Command, E extends Event, S> {
  readonly #retry: ResolvedRetryPolicy;

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<C, E, S>,
    private readonly options: CommandHandlerOptions<S> = {},
  ) {
    this.#retry = resolveRetryPolicy(options.retry);
    const every = options.snapshots?.every;
    if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) {
      throw new InvalidArgumentError('snapshots.every', `must be a positive integer, got ${every}`);
    }
  }

  async handle(streamId: string, command: C, options: HandleOptions = {}): Promise<CommandResult<E, S>> {
    assertStreamId(streamId);
    if (command === null || typeof command !== 'object' || typeof command.type !== 'string') {
      throw new InvalidArgumentError('command', 'must be an object with a type');
    }
    const commandId = command.id ?? uuidv7();
    const correlationId = command.correlationId ?? commandId;
    const userExpectation = options.expectedVersion;
    for (let attempt = 1; ; attempt++) {
      const loaded = await loadState(this.store, streamId, this.decider, {
        ...(this.options.snapshots && { snapshots: this.options.snapshots }),
      });
      const decided = decisionEvents(this.decider.decide(command, loaded.state));
      if (decided.length === 0) {
        return {
          streamId,
          state: loaded.state,
          events: [],
          nextExpectedVersion: loaded.version,
          position: null,
          attempts: attempt,
        };
      }
      const toAppend = decided.map(
        (event): EventToAppend<E> => ({
          ...event,
          correlationId,
          causationId: commandId,
          metadata: { ...command.metadata, ...event.metadata },
        }),
      );
      const expectedVersion =
        userExpectation ?? (loaded.version === 0n && loaded.snapshotVersion === null ? 'no_stream' : loaded.version);
      try {
        const result = await this.store.appendToStream<E>(streamId, toAppend, { expectedVersion });
        const recorded = result.events as readonly RecordedEvent<E>[];
        let state = loaded.state;
        for (const event of recorded) state = this.decider.evolve(state, event);
        await this.#maybeSnapshot(streamId, state, loaded.version, result.nextExpectedVersion);
        return {
          streamId,
          state,
          events: recorded,
          nextExpectedVersion: result.nextExpectedVersion,
          position: result.position,
          attempts: attempt,
        };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || userExpectation !== undefined) throw error;
        if (attempt >= this.#retry.maxAttempts) {
          throw new ConcurrencyRetriesExhaustedError(streamId, attempt, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.#retry, attempt)));
      }
    }
  }

  async #maybeSnapshot(streamId: string, state: S, before: StreamVersion, after: StreamVersion): Promise<void> {
    const policy = this.options.snapshots;
    if (!policy) return;
    const every = BigInt(policy.every);
    if (after / every === before / every) return;
    try {
      await policy.store.save({
        streamId,
        version: after,
        schemaVersion: policy.schemaVersion,
        state: policy.toSnapshot ? policy.toSnapshot(state) : state,
        time: new Date().toISOString(),
      });
    } catch (error) {
      if (this.options.onSnapshotError) this.options.onSnapshotError(error, streamId);
      else console.warn(`eventloom: saving a snapshot of ${streamId} failed; loads replay from the last good one`, error);
    }
  }
}
