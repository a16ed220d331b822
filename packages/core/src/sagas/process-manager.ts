/**
 * Process managers (choreography's memory): a handler reacting to events correlated by a key
 * (the order id), keeping its state as events in `<name>-<key>`, and emitting commands joined to
 * the conversation (correlation inherited, causation = the event). Each handled event is
 * recorded with an id derived from its own, so a redelivered event is recognised; commands get
 * ids derived from the event, so sending them again after a crash is deduplicated downstream.
 */
import { commandCausedBy, type Command } from '../envelope/command.js';
import { InvalidArgumentError, isEventloomError } from '../envelope/errors.js';
import type { Event, JsonValue, RecordedEvent } from '../envelope/event.js';
import { collect } from '../event-store/collect.js';
import type { EventStore, LogFilter, Subscription, SubscriptionStart } from '../event-store/event-store.js';
import { derivedId } from './idempotency.js';
import type { TimerDue, TimerService } from './timers.js';

/** The message as a process manager sees it again when folding: the event's type, data and ids. */
export type ProcessMessage<E extends Event = Event> = E & {
  readonly id: string;
  readonly streamId: string;
  readonly correlationId: string;
};

export interface ProcessReaction<C extends Command> {
  readonly commands?: readonly C[];
  /** Timers to schedule (ids are scoped to this process instance) — deadlines such as "not paid in 15 minutes". */
  readonly schedule?: readonly { readonly timer: string; readonly due: TimerDue }[];
  readonly cancel?: readonly string[];
}

/** What to do with a message that arrives after the process completed. */
export type LateMessagePolicy = 'ignore' | 'log' | 'dead-letter';

export interface ProcessManagerDefinition<E extends Event, S, C extends Command> {
  /** The category of its streams (`<name>-<key>`): letters and digits, no `-`. */
  readonly name: string;
  /** The key an event belongs to, or `null` when it is not this process's concern. */
  readonly correlate: (event: ProcessMessage<E>) => string | null;
  readonly initialState: () => S;
  /** Folds a handled message (the timers' `ProcessTimerFired` included) into the state. */
  readonly evolve: (state: S, message: ProcessMessage<E | ProcessTimerFired>) => S;
  /** Commands (and timers) the message calls for, given the state before it. Pure. */
  readonly react: (message: ProcessMessage<E | ProcessTimerFired>, state: S) => readonly C[] | ProcessReaction<C>;
  readonly isComplete: (state: S) => boolean;
  /** Default `'log'`. `'dead-letter'` records it in the store's subscription dead letters under the process name. */
  readonly afterCompletion?: LateMessagePolicy;
}

/** The message a process gets when one of its timers fires. */
export type ProcessTimerFired = Event<'ProcessTimerFired', { readonly key: string; readonly timer: string }>;

type HandledEvent = Event<
  'ProcessMessageHandled',
  { readonly message: { readonly id: string; readonly type: string; readonly streamId: string; readonly data: JsonValue }; readonly commands: readonly JsonValue[] }
>;

export type ProcessOutcome = 'handled' | 'duplicate' | 'late' | 'not-correlated';

export interface ProcessManagerOptions<E extends Event, S, C extends Command> {
  readonly store: EventStore;
  readonly definition: ProcessManagerDefinition<E, S, C>;
  /** Sends a command on (a transport's `send`, or a command handler); called again after a crash for commands not known to be sent. */
  readonly dispatch: (command: C & { readonly id: string; readonly correlationId: string; readonly causationId: string }) => Promise<void>;
  readonly timers?: TimerService;
  readonly logger?: { warn(message: string, ...details: unknown[]): void } | false;
}

export interface ProcessInstance<S> {
  readonly key: string;
  readonly state: S;
  readonly complete: boolean;
  readonly handled: number;
}

export class ProcessManager<E extends Event, S, C extends Command> {
  readonly #o: ProcessManagerOptions<E, S, C>;

  constructor(options: ProcessManagerOptions<E, S, C>) {
    if (!/^[A-Za-z0-9_]+$/.test(options.definition.name)) throw new InvalidArgumentError('definition.name', 'must be letters, digits or _ (it is the category of the process streams)');
    this.#o = options;
  }

  get name(): string {
    return this.#o.definition.name;
  }

  /** Handles one event (from a subscription, a consumer, a test); safe to call again with the same event. */
  async handle(event: RecordedEvent<E> | ProcessMessage<E | ProcessTimerFired>): Promise<ProcessOutcome> {
    const def = this.#o.definition;
    const message = event as ProcessMessage<E | ProcessTimerFired>;
    const key = message.type === 'ProcessTimerFired' ? (message as ProcessMessage<ProcessTimerFired>).data.key : def.correlate(message as ProcessMessage<E>);
    if (key === null) return 'not-correlated';
    const streamId = `${def.name}-${key}`;
    for (;;) {
      const loaded = await this.#load(streamId);
      const recordedId = derivedId(`${streamId}:${message.id}`);
      const earlier = loaded.events.find((e) => e.id === recordedId);
      if (earlier !== undefined) {
        // Seen before: send its commands again, in case the crash came between recording and sending.
        for (const command of earlier.data.commands) await this.#o.dispatch(command as never);
        return 'duplicate';
      }
      if (def.isComplete(loaded.state)) {
        await this.#late(message, streamId, event as Partial<RecordedEvent>);
        return 'late';
      }
      const reaction = normalize(def.react(message, loaded.state));
      const commands = (reaction.commands ?? []).map((c, i) => commandCausedBy(message, { ...c, id: c.id ?? derivedId(`${streamId}:${message.id}:command`, i) }));
      try {
        await this.#o.store.appendToStream<HandledEvent>(
          streamId,
          [
            {
              id: recordedId,
              type: 'ProcessMessageHandled',
              data: { message: { id: message.id, type: message.type, streamId: message.streamId, data: message.data as JsonValue }, commands: commands as unknown as JsonValue[] },
              correlationId: message.correlationId,
              causationId: message.id,
            },
          ],
          { expectedVersion: loaded.version },
        );
      } catch (error) {
        // Another handler of the same key went first: decide again on its state.
        if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') continue;
        throw error;
      }
      await this.#timers(key, reaction, message.correlationId);
      for (const command of commands) await this.#o.dispatch(command);
      return 'handled';
    }
  }

  /** The instance's state folded from its stream; `null` when it has handled nothing. */
  async instance(key: string): Promise<ProcessInstance<S> | null> {
    const loaded = await this.#load(`${this.#o.definition.name}-${key}`);
    if (loaded.events.length === 0) return null;
    return { key, state: loaded.state, complete: this.#o.definition.isComplete(loaded.state), handled: loaded.events.length };
  }

  /** Runs the process on a named store subscription (checkpointed, one holder at a time). */
  subscribe(options: { readonly subscriptionId: string; readonly filter?: LogFilter; readonly from?: SubscriptionStart; readonly pollIntervalMs?: number }): Subscription {
    return this.#o.store.subscribe<E>({
      subscriptionId: options.subscriptionId,
      ...(options.filter ? { filter: options.filter } : {}),
      ...(options.from ? { from: options.from } : {}),
      ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
      handler: async (event) => {
        await this.handle(event);
      },
    });
  }

  /** The `onFire` of a `TimerService` for this process's timers (payload `{ process, key, timer }`). */
  async onTimer(timer: { readonly fireKey: string; readonly payload: JsonValue; readonly correlationId: string }): Promise<void> {
    const payload = timer.payload as { process?: string; key?: string; timer?: string } | null;
    if (payload?.process !== this.name || typeof payload.key !== 'string' || typeof payload.timer !== 'string') return;
    await this.handle({ id: timer.fireKey, type: 'ProcessTimerFired', data: { key: payload.key, timer: payload.timer }, streamId: `timer-${payload.timer}`, correlationId: timer.correlationId } as ProcessMessage<ProcessTimerFired>);
  }

  async #timers(key: string, reaction: ProcessReaction<C>, correlationId: string): Promise<void> {
    if ((reaction.schedule?.length ?? 0) + (reaction.cancel?.length ?? 0) === 0) return;
    const timers = this.#o.timers;
    if (timers === undefined) throw new InvalidArgumentError('timers', `process ${this.name} schedules timers but was given no TimerService`);
    for (const { timer, due } of reaction.schedule ?? []) {
      const id = `${this.name}_${key}_${timer}`;
      const current = await timers.get(id);
      // Scheduling again after a crash is a no-op: the timer is already there.
      if (current?.state === 'scheduled') continue;
      if (current === null) await timers.schedule(id, due, { process: this.name, key, timer: id }, { correlationId });
    }
    for (const timer of reaction.cancel ?? []) await timers.cancel(`${this.name}_${key}_${timer}`);
  }

  async #late(message: ProcessMessage<Event>, streamId: string, event: Partial<RecordedEvent>): Promise<void> {
    const policy = this.#o.definition.afterCompletion ?? 'log';
    if (policy === 'ignore') return;
    const text = `process ${streamId} is complete; late message ${message.type} ${message.id} not handled`;
    if (policy === 'log') {
      if (this.#o.logger !== false) (this.#o.logger ?? console).warn(text);
      return;
    }
    await this.#o.store.subscriptionDeadLetters.record({
      subscriptionId: this.name,
      position: event.position ?? 0n,
      eventId: message.id,
      eventType: message.type,
      streamId: message.streamId,
      error: `LateMessage: ${text}`,
      attempts: 1,
      failedAt: new Date().toISOString(),
    });
  }

  async #load(streamId: string): Promise<{ state: S; version: bigint; events: RecordedEvent<HandledEvent>[] }> {
    const def = this.#o.definition;
    const events = await collect(this.#o.store.readStream<HandledEvent>(streamId));
    let state = def.initialState();
    for (const e of events) {
      if (e.type !== 'ProcessMessageHandled') continue;
      state = def.evolve(state, { type: e.data.message.type, data: e.data.message.data, id: e.data.message.id, streamId: e.data.message.streamId, correlationId: e.correlationId } as ProcessMessage<E>);
    }
    return { state, version: events.at(-1)?.streamVersion ?? 0n, events };
  }
}

function normalize<C extends Command>(reaction: readonly C[] | ProcessReaction<C>): ProcessReaction<C> {
  return Array.isArray(reaction) ? { commands: reaction as readonly C[] } : (reaction as ProcessReaction<C>);
}
