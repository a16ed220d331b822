/**
 * The saga orchestrator: runs a `SagaDefinition` against its log `saga-<id>` in the event store.
 * Each move (open an attempt, record its outcome, finish) is one append at the version the
 * executor last saw, so only one executor advances a saga at a time; a second one gets
 * `SagaConflictError` and does nothing. After a crash, `resume`/`recover` read the log and go on
 * from the last recorded move: an attempt opened and never settled is run again with the same
 * idempotency key, and counts as one that may have acted.
 */
import { commandCausedBy, type Command } from '../envelope/command.js';
import {
  InvalidArgumentError,
  isEventloomError,
  SagaConflictError,
  SagaNotFoundError,
  SagaStepRejectedError,
  SagaStepTimeoutError,
} from '../envelope/errors.js';
import type { JsonValue, RecordedEvent } from '../envelope/event.js';
import { MAX_STREAM_ID_LENGTH } from '../envelope/stream-id.js';
import type { EventStore } from '../event-store/event-store.js';
import { collect } from '../event-store/collect.js';
import type { OutgoingMessage } from '../messaging/message.js';
import type { Transport } from '../messaging/transport.js';
import { derivedId, sagaIdempotencyKey } from './idempotency.js';
import { resolveSagaRetry, retryDelay, type ResolvedRetry, type SagaDefinition, type SagaStep, type SagaStepContext } from './saga-definition.js';
import {
  evolveSaga,
  foldSagaLog,
  sagaStatusOf,
  sagaStreamId,
  TERMINAL_SAGA_EVENT_TYPES,
  TERMINAL_SAGA_STATES,
  type SagaLogEvent,
  type SagaProgress,
  type SagaStatus,
} from './saga-log.js';

export interface SagaOrchestratorOptions<I extends JsonValue> {
  readonly store: EventStore;
  readonly saga: SagaDefinition<I>;
  /** Where `context.send` puts commands. Optional: steps may call services directly. */
  readonly transport?: Pick<Transport, 'send'>;
  /** Told when a compensation fails for good (the saga is then `compensation_failed`). Default `console`; `false` for none. */
  readonly logger?: { error(message: string, ...details: unknown[]): void } | false;
  /** Sagas `recover()` runs at once. Default 8. */
  readonly recoverConcurrency?: number;
}

interface Loaded {
  progress: SagaProgress;
  /**
   * Outcomes recorded in the progress but not yet in the log: they go with the next append (a
   * completed step with the next step's start), so a step costs two log appends, not three. A crash
   * before that append loses only the record, and the step runs again with its key.
   */
  pending: SagaLogEvent[];
}

export class SagaOrchestrator<I extends JsonValue = JsonValue> {
  readonly #store: EventStore;
  readonly #saga: SagaDefinition<I>;
  readonly #steps: ReadonlyMap<string, { step: SagaStep<I>; action: ResolvedRetry; compensation: ResolvedRetry }>;
  readonly #options: SagaOrchestratorOptions<I>;

  constructor(options: SagaOrchestratorOptions<I>) {
    this.#options = options;
    this.#store = options.store;
    this.#saga = options.saga;
    this.#steps = new Map(
      options.saga.steps.map((step, i) => {
        const action = resolveSagaRetry(step.retry, `saga.steps[${i}].retry`);
        const compensation = resolveSagaRetry(step.compensationRetry ?? step.retry, `saga.steps[${i}].compensationRetry`, step.compensationRetry ? 1 : 5);
        return [step.name, { step, action, compensation }] as const;
      }),
    );
  }

  get name(): string {
    return this.#saga.name;
  }

  /** Records the saga's start (idempotent: starting it again changes nothing) without running it. */
  async start(sagaId: string, input: I): Promise<void> {
    checkSagaId(sagaId);
    const streamId = sagaStreamId(sagaId);
    try {
      await this.#store.appendToStream<SagaLogEvent>(
        streamId,
        [{ id: derivedId(`start:${streamId}`), type: 'SagaStarted', data: { saga: this.#saga.name, input, steps: this.#saga.steps.map((s) => s.name) }, correlationId: sagaId }],
        { expectedVersion: 'no_stream' },
      );
    } catch (error) {
      if (!(isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION')) throw error;
      // Started before (a retry after a crash): fine if it is this saga.
      await this.#load(sagaId);
    }
  }

  /** Starts the saga and runs it to a terminal state; returns its final status. */
  async execute(sagaId: string, input: I): Promise<SagaStatus> {
    await this.start(sagaId, input);
    return this.resume(sagaId);
  }

  /**
   * Runs the saga from where its log stands to a terminal state. Throws `SagaConflictError` when
   * another executor advances it meanwhile (this one stops without acting further).
   */
  async resume(sagaId: string): Promise<SagaStatus> {
    checkSagaId(sagaId);
    const loaded = await this.#load(sagaId);
    while (!TERMINAL_SAGA_STATES.includes(loaded.progress.state)) await this.#move(loaded);
    return sagaStatusOf(loaded.progress);
  }

  /** The saga's status from its log; `null` when there is none. */
  async status(sagaId: string): Promise<SagaStatus | null> {
    checkSagaId(sagaId);
    const progress = foldSagaLog(await collect(this.#store.readStream<SagaLogEvent>(sagaStreamId(sagaId))));
    return progress === null ? null : sagaStatusOf(progress);
  }

  /** Ids of this definition's sagas that are not terminal (read from the log's start and end events). */
  async unfinished(): Promise<readonly string[]> {
    const open = new Set<string>();
    for await (const event of this.#store.readCategory<SagaLogEvent>('saga', { eventTypes: ['SagaStarted', ...TERMINAL_SAGA_EVENT_TYPES] })) {
      const sagaId = event.streamId.slice('saga-'.length);
      if (event.type === 'SagaStarted') {
        if (event.data.saga === this.#saga.name) open.add(sagaId);
      } else open.delete(sagaId);
    }
    return [...open];
  }

  /**
   * Resumes every unfinished saga of this definition (after a restart). Sagas another executor
   * holds are skipped; returns the statuses reached.
   */
  async recover(): Promise<readonly SagaStatus[]> {
    const ids = await this.unfinished();
    const results: SagaStatus[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          results.push(await this.resume(id));
        } catch (error) {
          if (!(error instanceof SagaConflictError)) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ids.length, this.#options.recoverConcurrency ?? 8) }, worker));
    return results;
  }

  async #load(sagaId: string): Promise<Loaded> {
    const progress = foldSagaLog(await collect(this.#store.readStream<SagaLogEvent>(sagaStreamId(sagaId))));
    if (progress === null) throw new SagaNotFoundError(sagaId);
    if (progress.saga !== this.#saga.name) throw new SagaNotFoundError(sagaId, `belongs to saga ${progress.saga}, not ${this.#saga.name}`);
    return { progress, pending: [] };
  }

  /** Appends (after what is pending) at the version last seen; losing the race means another executor has the saga. */
  async #append(loaded: Loaded, event: SagaLogEvent): Promise<RecordedEvent<SagaLogEvent>> {
    const { progress } = loaded;
    const events = [...loaded.pending, event].map((e) => ({ ...e, correlationId: progress.sagaId }));
    try {
      const result = await this.#store.appendToStream<SagaLogEvent>(sagaStreamId(progress.sagaId), events, { expectedVersion: progress.version });
      const recorded = result.events.at(-1) as RecordedEvent<SagaLogEvent>;
      loaded.pending = [];
      loaded.progress = evolveSaga(progress, recorded);
      return recorded;
    } catch (error) {
      if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') throw new SagaConflictError(progress.sagaId, { cause: error });
      throw error;
    }
  }

  /** Records an outcome in the progress now and in the log with the next append. */
  #defer(loaded: Loaded, event: SagaLogEvent): void {
    const { progress } = loaded;
    const provisional = { ...event, id: '', schemaVersion: 1, streamId: sagaStreamId(progress.sagaId), streamVersion: progress.version, position: 0n, time: new Date().toISOString(), source: '', correlationId: progress.sagaId, causationId: null, metadata: {} } as RecordedEvent<SagaLogEvent>;
    loaded.pending.push(event);
    loaded.progress = evolveSaga(progress, provisional);
  }

  /** One move: the next attempt, compensation or ending the log says is due. */
  async #move(loaded: Loaded): Promise<void> {
    const p = loaded.progress;
    if (p.state === 'running') {
      const stepName = p.steps.find((s) => !p.completedSteps.includes(s));
      if (stepName === undefined) {
        await this.#append(loaded, { type: 'SagaCompleted', data: { results: p.results } });
        return;
      }
      await this.#runAction(loaded, this.#stepNamed(stepName));
      return;
    }
    // Compensating: completed steps, and the ones that may have acted, newest first.
    const toUndo = p.steps.filter((s) => (p.completedSteps.includes(s) || p.uncertainSteps.includes(s)) && !p.compensatedSteps.includes(s)).reverse();
    const stepName = toUndo[0];
    if (stepName === undefined) {
      await this.#append(loaded, { type: 'SagaCompensated', data: { failedStep: p.failure?.step ?? '', error: p.failure?.error ?? '' } });
      return;
    }
    await this.#runCompensation(loaded, this.#stepNamed(stepName));
  }

  #stepNamed(name: string) {
    const entry = this.#steps.get(name);
    // A log written by another version of the definition: a step it names is gone.
    if (entry === undefined) throw new InvalidArgumentError('saga.steps', `saga ${this.#saga.name} has no step ${name}, but a saga log names it; keep removed steps until their sagas end`);
    return entry;
  }

  async #runAction(loaded: Loaded, entry: { step: SagaStep<I>; action: ResolvedRetry }): Promise<void> {
    const { step } = entry;
    const attempt = (loaded.progress.actionAttempts[step.name] ?? 0) + 1;
    const idempotencyKey = sagaIdempotencyKey(loaded.progress.sagaId, step.name, 'action');
    const opened = await this.#append(loaded, { type: 'SagaStepStarted', data: { step: step.name, attempt, idempotencyKey } });
    const started = Date.now();
    const outcome = await this.#attempt(loaded.progress, step, 'action', attempt, idempotencyKey, opened.id, (ctx) => step.action(ctx));
    if (outcome.ok) {
      const result = (outcome.value ?? null) as JsonValue;
      this.#defer(loaded, { type: 'SagaStepCompleted', data: { step: step.name, attempt, result, durationMs: Date.now() - started } });
      return;
    }
    const willRetry = !outcome.rejected && attempt < entry.action.maxAttempts;
    await this.#append(loaded, {
      type: 'SagaStepFailed',
      data: { step: step.name, attempt, error: outcome.error, rejected: outcome.rejected, timedOut: outcome.timedOut, willRetry },
    });
    if (willRetry) await sleep(retryDelay(entry.action, attempt));
  }

  async #runCompensation(loaded: Loaded, entry: { step: SagaStep<I>; compensation: ResolvedRetry }): Promise<void> {
    const { step } = entry;
    const attempt = (loaded.progress.compensationAttempts[step.name] ?? 0) + 1;
    const idempotencyKey = sagaIdempotencyKey(loaded.progress.sagaId, step.name, 'compensation');
    const opened = await this.#append(loaded, { type: 'SagaCompensationStarted', data: { step: step.name, attempt, idempotencyKey } });
    const started = Date.now();
    const compensate = step.compensate;
    const outcome = compensate === undefined ? { ok: true as const, value: undefined } : await this.#attempt(loaded.progress, step, 'compensation', attempt, idempotencyKey, opened.id, (ctx) => compensate(ctx));
    if (outcome.ok) {
      this.#defer(loaded, { type: 'SagaCompensationCompleted', data: { step: step.name, attempt, durationMs: Date.now() - started } });
      return;
    }
    const willRetry = attempt < entry.compensation.maxAttempts;
    await this.#append(loaded, { type: 'SagaCompensationFailed', data: { step: step.name, attempt, error: outcome.error, willRetry } });
    if (willRetry) {
      await sleep(retryDelay(entry.compensation, attempt));
      return;
    }
    const failedStep = loaded.progress.failure?.step ?? '';
    await this.#append(loaded, { type: 'SagaCompensationAbandoned', data: { step: step.name, error: outcome.error, failedStep } });
    if (this.#options.logger !== false) {
      (this.#options.logger ?? console).error(`saga ${this.#saga.name} ${loaded.progress.sagaId}: compensation of ${step.name} failed ${attempt} times, state compensation_failed: ${outcome.error}`);
    }
  }

  async #attempt(
    progress: SagaProgress,
    step: SagaStep<I>,
    kind: 'action' | 'compensation',
    attempt: number,
    idempotencyKey: string,
    causationId: string,
    run: (context: SagaStepContext<I>) => Promise<JsonValue | void> | JsonValue | void,
  ): Promise<{ ok: true; value: JsonValue | void } | { ok: false; error: string; rejected: boolean; timedOut: boolean }> {
    const controller = new AbortController();
    const sagaId = progress.sagaId;
    const command = <C extends Command>(c: C, index = 0) => commandCausedBy({ id: causationId, correlationId: sagaId }, { ...c, id: c.id ?? derivedId(idempotencyKey, index) });
    const transport = this.#options.transport;
    const context: SagaStepContext<I> = {
      sagaId,
      saga: this.#saga.name,
      step: step.name,
      attempt,
      idempotencyKey,
      input: progress.input as I,
      results: progress.results,
      signal: controller.signal,
      causationId,
      command,
      send: async (queue: string, message: OutgoingMessage, index = 0) => {
        if (transport === undefined) throw new InvalidArgumentError('transport', `saga ${this.#saga.name} step ${step.name} sends to ${queue}, but the orchestrator has no transport`);
        return transport.send(queue, { ...message, id: message.id ?? derivedId(idempotencyKey, index), correlationId: sagaId, causationId });
      },
      reject: (reason: string): never => {
        throw new SagaStepRejectedError(step.name, reason);
      },
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const work = Promise.resolve().then(() => run(context));
      const value =
        step.timeoutMs === undefined
          ? await work
          : await Promise.race([
              work,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  controller.abort();
                  reject(new SagaStepTimeoutError(step.name, step.timeoutMs!));
                }, step.timeoutMs);
              }),
            ]);
      return { ok: true, value };
    } catch (error) {
      return {
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        rejected: kind === 'action' && error instanceof SagaStepRejectedError,
        timedOut: error instanceof SagaStepTimeoutError,
      };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

function checkSagaId(sagaId: unknown): asserts sagaId is string {
  if (typeof sagaId !== 'string' || sagaId.length === 0) throw new InvalidArgumentError('sagaId', 'must be a non-empty string');
  if (sagaId.length + 'saga-'.length > MAX_STREAM_ID_LENGTH) throw new InvalidArgumentError('sagaId', `is longer than ${MAX_STREAM_ID_LENGTH - 5} characters`);
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
