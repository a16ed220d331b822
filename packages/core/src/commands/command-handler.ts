/**
 * The command handler: load (from a snapshot when there is one), decide, append with the
 * expected version, and on a conflict decide again on fresh state — a bounded number of times.
 * A command with an id is handled once: its events' ids derive from it, and a retry that finds
 * them in the stream returns the earlier result without deciding or writing again.
 */
import { AggregateRoot } from './aggregate-root.js';
import type { Command } from '../envelope/command.js';
import { commandEventId } from './command-event-ids.js';
import { decisionEvents, type Decider } from './decider.js';
import { ConcurrencyRetriesExhaustedError, DuplicateEventIdError, InvalidArgumentError, WrongExpectedVersionError } from '../envelope/errors.js';
import type { Event, EventToAppend, Position, RecordedEvent, StreamVersion } from '../envelope/event.js';
import type { EventStore, ExpectedVersion } from '../event-store/event-store.js';
import { loadStateReading, type LoadedState, type SnapshotPolicy } from './load-state.js';
import { backoffDelay, resolveRetryPolicy, type ResolvedRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { assertStreamId } from '../envelope/stream-id.js';
import { uuidv7 } from '../envelope/uuid.js';

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
  /**
   * True when this command id had been handled already (a retry after an unknown outcome):
   * nothing was decided or written, `events` are those recorded the first time, and `state` and
   * `nextExpectedVersion` are the stream's current ones.
   */
  readonly idempotent: boolean;
}

/**
 * Handles commands for one kind of stream with a decider (or a class aggregate through
 * `aggregateDecider`). Whatever it appends inherits the command's correlation id, takes the
 * command's id as causation id, and records the command's own cause as `metadata.commandCausationId`.
 *
 * A command with an `id` is idempotent: retried (say after `STORE_UNAVAILABLE`, when whether the
 * append committed is unknown), it returns the earlier result and writes nothing. The handler
 * remembers a command for as long as its events are visible in the stream — without snapshots,
 * the whole stream; with snapshots, at least the newest `every` events.
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
    const snapshots = options.snapshots;
    const every = snapshots?.every;
    if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) {
      throw new InvalidArgumentError('snapshots.every', `must be a positive integer, got ${every}`);
    }
    if (snapshots && (!snapshots.toSnapshot || !snapshots.fromSnapshot) && decider.initialState() instanceof AggregateRoot) {
      throw new InvalidArgumentError(
        'snapshots',
        'a class aggregate is not JSON (its methods and private fields would not survive a snapshot): give toSnapshot and fromSnapshot',
      );
    }
  }

  async handle(streamId: string, command: C, options: HandleOptions = {}): Promise<CommandResult<E, S>> {
    assertStreamId(streamId);
    if (command === null || typeof command !== 'object' || typeof command.type !== 'string') {
      throw new InvalidArgumentError('command', 'must be an object with a type');
    }
    for (const field of ['id', 'correlationId', 'causationId'] as const) {
      const value = command[field];
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw new InvalidArgumentError(`command.${field}`, 'must be a non-empty string when given');
      }
    }
    const remembered = command.id !== undefined;
    const commandId = command.id ?? uuidv7();
    const correlationId = command.correlationId ?? commandId;
    // Without an id a command cannot be retried as itself, so its events get ordinary time-ordered ids.
    const eventId = (index: number): string => (remembered ? commandEventId(streamId, commandId, index) : uuidv7());
    const userExpectation = options.expectedVersion;
    for (let attempt = 1; ; attempt++) {
      const seen = new SeenEvents(remembered ? (index) => commandEventId(streamId, commandId, index) : null);
      // A command with an id may find its events already there and return them: it reads whole events.
      const loaded = await loadStateReading(
        this.store,
        streamId,
        seen.watch(this.decider),
        { ...(this.options.snapshots && { snapshots: this.options.snapshots }) },
        remembered ? 'whole' : 'folded',
      );
      // With nothing visible, the stream may still have a version (all its events hidden).
      const version =
        loaded.eventsRead === 0 && loaded.snapshotVersion === null ? (await this.store.streamInfo(streamId)).version : loaded.version;
      const earlierResult = (events: readonly RecordedEvent<E>[]): CommandResult<E, S> => ({
        streamId,
        state: loaded.state,
        events,
        nextExpectedVersion: version,
        position: events.at(-1)!.position,
        attempts: attempt,
        idempotent: true,
      });
      if (seen.earlier.length > 0) return earlierResult(seen.earlier as RecordedEvent<E>[]);
      let decided: readonly E[];
      try {
        decided = decisionEvents(this.decider.decide(command, loaded.state));
      } catch (error) {
        const earlier = await this.#lookBack(streamId, seen, loaded);
        if (earlier) return earlierResult(earlier);
        throw error;
      }
      if (decided.length === 0) {
        const earlier = await this.#lookBack(streamId, seen, loaded);
        if (earlier) return earlierResult(earlier);
        return { streamId, state: loaded.state, events: [], nextExpectedVersion: version, position: null, attempts: attempt, idempotent: false };
      }
      const toAppend = decided.map(
        (event, index): EventToAppend<E> => ({
          ...event,
          id: (event as EventToAppend<E>).id ?? eventId(index),
          correlationId,
          causationId: commandId,
          metadata: {
            ...command.metadata,
            ...event.metadata,
            ...(command.causationId !== undefined && { commandCausationId: command.causationId }),
          },
        }),
      );
      const expectedVersion = userExpectation ?? (version === 0n ? 'no_stream' : version);
      try {
        const result = await this.store.appendToStream<E>(streamId, toAppend, { expectedVersion });
        const recorded = result.events as readonly RecordedEvent<E>[];
        let state = loaded.state;
        for (const event of recorded) state = this.decider.evolve(state, event);
        // A snapshot of a stream whose start is hidden would be wrong if the start came back into view.
        if (seen.startVisible(loaded, version)) await this.#maybeSnapshot(streamId, state, version, result.nextExpectedVersion);
        return {
          streamId,
          state,
          events: recorded,
          nextExpectedVersion: result.nextExpectedVersion,
          position: result.position,
          attempts: attempt,
          idempotent: result.idempotent,
        };
      } catch (error) {
        if (error instanceof WrongExpectedVersionError || error instanceof DuplicateEventIdError) {
          const earlier = await this.#lookBack(streamId, seen, loaded);
          if (earlier) return earlierResult(earlier);
          if (remembered && toAppend[0]!.id === commandEventId(streamId, commandId, 0) && refusedOwnIds(error, version)) {
            throw new InvalidArgumentError(
              'command.id',
              `${commandId} was handled on ${streamId} before, longer ago than the handler remembers (its events are hidden, or behind the latest snapshot's window); nothing was written. Give a new command a new id`,
            );
          }
        }
        if (!(error instanceof WrongExpectedVersionError) || userExpectation !== undefined) throw error;
        if (attempt >= this.#retry.maxAttempts) {
          throw new ConcurrencyRetriesExhaustedError(streamId, attempt, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.#retry, attempt)));
      }
    }
  }

  /**
   * Looks for the command's earlier events among those a snapshot covered (the fold saw only the
   * events after it): the newest `every` events before the snapshot, and those after it.
   */
  async #lookBack(streamId: string, seen: SeenEvents, loaded: LoadedState<S>): Promise<RecordedEvent<E>[] | null> {
    const policy = this.options.snapshots;
    if (!seen.remembering || loaded.snapshotVersion === null || !policy) return null;
    const window = loaded.eventsRead + policy.every;
    const newestFirst: RecordedEvent<E>[] = [];
    for await (const event of this.store.readStream<E>(streamId, { direction: 'backwards', maxCount: window, batchSize: Math.min(window, 500) })) {
      newestFirst.push(event);
    }
    const look = new SeenEvents(seen.idOf);
    for (const event of newestFirst.reverse()) look.see(event);
    return look.earlier.length > 0 ? (look.earlier as RecordedEvent<E>[]) : null;
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

/**
 * Whether the store refused the append because the command's derived ids are recorded already
 * (rather than because another writer moved the stream): the stream is still at `version`.
 */
function refusedOwnIds(error: WrongExpectedVersionError | DuplicateEventIdError, version: StreamVersion): boolean {
  if (error instanceof DuplicateEventIdError) return true;
  return (error.actualVersion ?? 0n) === version;
}

/** What the handler notices in the events it folds: the command's own earlier events, and where the fold began. */
class SeenEvents {
  /** The command's events found so far, in order (an append is atomic: all of them or none). */
  readonly earlier: RecordedEvent[] = [];
  #first: StreamVersion | null = null;

  constructor(readonly idOf: ((index: number) => string) | null) {}

  get remembering(): boolean {
    return this.idOf !== null;
  }

  see(event: RecordedEvent): void {
    this.#first ??= event.streamVersion;
    if (this.idOf && event.id === this.idOf(this.earlier.length)) this.earlier.push(event);
  }

  /** The decider with `evolve` reporting each event here first. */
  watch<C extends Command, E extends Event, S>(decider: Decider<C, E, S>): Pick<Decider<never, E, S>, 'initialState' | 'evolve'> {
    return {
      initialState: () => decider.initialState(),
      evolve: (state, event) => {
        this.see(event as unknown as RecordedEvent);
        return decider.evolve(state, event);
      },
    };
  }

  /** Whether the load saw the stream from its first event (a snapshot is checked for that when loaded). */
  startVisible(loaded: LoadedState<unknown>, version: StreamVersion): boolean {
    if (loaded.snapshotVersion !== null) return true;
    return this.#first === null ? version === 0n : this.#first === 1n;
  }
}
