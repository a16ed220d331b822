/**
 * The saga log: what an orchestrated saga records in its stream `saga-<id>`, and the state folded
 * from it. The log is the only state a saga has, so an executor that starts after a crash reads
 * it and continues exactly where the last one stopped.
 */
import type { Event, JsonValue, RecordedEvent } from '../envelope/event.js';

export type SagaLogEvent =
  | Event<'SagaStarted', { readonly saga: string; readonly input: JsonValue; readonly steps: readonly string[] }>
  | Event<'SagaStepStarted', { readonly step: string; readonly attempt: number; readonly idempotencyKey: string }>
  | Event<'SagaStepCompleted', { readonly step: string; readonly attempt: number; readonly result: JsonValue; readonly durationMs: number }>
  | Event<'SagaStepFailed', { readonly step: string; readonly attempt: number; readonly error: string; readonly rejected: boolean; readonly timedOut: boolean; readonly willRetry: boolean }>
  | Event<'SagaCompensationStarted', { readonly step: string; readonly attempt: number; readonly idempotencyKey: string }>
  | Event<'SagaCompensationCompleted', { readonly step: string; readonly attempt: number; readonly durationMs: number }>
  | Event<'SagaCompensationFailed', { readonly step: string; readonly attempt: number; readonly error: string; readonly willRetry: boolean }>
  | Event<'SagaCompleted', { readonly results: { readonly [step: string]: JsonValue } }>
  | Event<'SagaCompensated', { readonly failedStep: string; readonly error: string }>
  | Event<'SagaCompensationAbandoned', { readonly step: string; readonly error: string; readonly failedStep: string }>;

export const SAGA_LOG_EVENT_TYPES: readonly SagaLogEvent['type'][] = [
  'SagaStarted',
  'SagaStepStarted',
  'SagaStepCompleted',
  'SagaStepFailed',
  'SagaCompensationStarted',
  'SagaCompensationCompleted',
  'SagaCompensationFailed',
  'SagaCompleted',
  'SagaCompensated',
  'SagaCompensationAbandoned',
];

export const TERMINAL_SAGA_EVENT_TYPES: readonly SagaLogEvent['type'][] = ['SagaCompleted', 'SagaCompensated', 'SagaCompensationAbandoned'];

/**
 * - `running`: steps going forwards;
 * - `compensating`: a step failed for good, completed steps are being undone in reverse order;
 * - `completed`: every step done;
 * - `compensated`: a step failed and every completed step was undone;
 * - `compensation_failed`: a compensation kept failing; `compensationError` says why. Needs a person.
 */
export type SagaState = 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed';

export const TERMINAL_SAGA_STATES: readonly SagaState[] = ['completed', 'compensated', 'compensation_failed'];

export interface SagaHistoryEntry {
  readonly type: SagaLogEvent['type'];
  readonly at: string;
  readonly step: string | null;
  readonly attempt: number | null;
  readonly error: string | null;
  readonly durationMs: number | null;
}

/** What `status(sagaId)` answers: the saga's state folded from its log. */
export interface SagaStatus {
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly saga: string;
  readonly state: SagaState;
  readonly input: JsonValue;
  /** The step running or being compensated now; `null` when terminal. */
  readonly currentStep: string | null;
  readonly completedSteps: readonly string[];
  readonly compensatedSteps: readonly string[];
  readonly results: { readonly [step: string]: JsonValue };
  /** The step that failed for good and its error; `null` unless compensating or compensated. */
  readonly failure: { readonly step: string; readonly error: string } | null;
  /** The compensation that kept failing (state `compensation_failed`). */
  readonly compensationError: { readonly step: string; readonly error: string } | null;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  readonly history: readonly SagaHistoryEntry[];
  /** The log's version: the number of events in `saga-<id>`. */
  readonly version: bigint;
}

/** The fold's working state, richer than `SagaStatus` where the executor needs it. */
export interface SagaProgress extends SagaStatus {
  /** Attempts started per step (action) and per compensation. */
  readonly actionAttempts: { readonly [step: string]: number };
  readonly compensationAttempts: { readonly [step: string]: number };
  /** Steps that may have acted without recording it (a timeout, or a crash mid-action): compensated too. */
  readonly uncertainSteps: readonly string[];
  /** An action or compensation started and not yet settled in the log. */
  readonly open: { readonly kind: 'action' | 'compensation'; readonly step: string } | null;
  readonly steps: readonly string[];
}

export function sagaStreamId(sagaId: string): string {
  return `saga-${sagaId}`;
}

/** Folds a saga's log; `null` for an empty stream. */
export function foldSagaLog(events: readonly RecordedEvent<SagaLogEvent>[]): SagaProgress | null {
  const first = events[0];
  if (first === undefined || first.type !== 'SagaStarted') return null;
  let p: Mutable<SagaProgress> = {
    sagaId: first.streamId.slice('saga-'.length),
    saga: first.data.saga,
    state: 'running',
    input: first.data.input,
    currentStep: first.data.steps[0] ?? null,
    completedSteps: [],
    compensatedSteps: [],
    results: {},
    failure: null,
    compensationError: null,
    startedAt: first.time,
    updatedAt: first.time,
    endedAt: null,
    durationMs: null,
    history: [],
    version: 0n,
    actionAttempts: {},
    compensationAttempts: {},
    uncertainSteps: [],
    open: null,
    steps: first.data.steps,
  };
  for (const event of events) p = evolveSaga(p, event);
  return p;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One event into the progress; pure (returns a new object). */
export function evolveSaga(progress: SagaProgress, event: RecordedEvent<SagaLogEvent>): Mutable<SagaProgress> {
  const p: Mutable<SagaProgress> = { ...progress, version: event.streamVersion, updatedAt: event.time };
  const entry = (step: string | null, attempt: number | null, error: string | null = null, durationMs: number | null = null): SagaHistoryEntry => ({
    type: event.type,
    at: event.time,
    step,
    attempt,
    error,
    durationMs,
  });
  switch (event.type) {
    case 'SagaStarted':
      p.history = [...p.history, entry(null, null)];
      break;
    case 'SagaStepStarted': {
      const d = event.data;
      // An action opened and never settled was interrupted: it may have acted.
      if (p.open?.kind === 'action' && !p.uncertainSteps.includes(p.open.step)) p.uncertainSteps = [...p.uncertainSteps, p.open.step];
      p.actionAttempts = { ...p.actionAttempts, [d.step]: d.attempt };
      p.open = { kind: 'action', step: d.step };
      p.currentStep = d.step;
      p.history = [...p.history, entry(d.step, d.attempt)];
      break;
    }
    case 'SagaStepCompleted': {
      const d = event.data;
      p.open = null;
      p.completedSteps = [...p.completedSteps, d.step];
      p.uncertainSteps = p.uncertainSteps.filter((s) => s !== d.step);
      p.results = { ...p.results, [d.step]: d.result };
      const next = p.steps[p.steps.indexOf(d.step) + 1];
      p.currentStep = next ?? null;
      p.history = [...p.history, entry(d.step, d.attempt, null, d.durationMs)];
      break;
    }
    case 'SagaStepFailed': {
      const d = event.data;
      p.open = null;
      if (d.timedOut && !p.uncertainSteps.includes(d.step)) p.uncertainSteps = [...p.uncertainSteps, d.step];
      if (!d.willRetry) {
        p.state = 'compensating';
        p.failure = { step: d.step, error: d.error };
        p.currentStep = null;
      }
      p.history = [...p.history, entry(d.step, d.attempt, d.error)];
      break;
    }
    case 'SagaCompensationStarted': {
      const d = event.data;
      p.compensationAttempts = { ...p.compensationAttempts, [d.step]: d.attempt };
      p.open = { kind: 'compensation', step: d.step };
      p.currentStep = d.step;
      p.history = [...p.history, entry(d.step, d.attempt)];
      break;
    }
    case 'SagaCompensationCompleted': {
      const d = event.data;
      p.open = null;
      p.compensatedSteps = [...p.compensatedSteps, d.step];
      p.currentStep = null;
      p.history = [...p.history, entry(d.step, d.attempt, null, d.durationMs)];
      break;
    }
    case 'SagaCompensationFailed': {
      const d = event.data;
      p.open = null;
      p.history = [...p.history, entry(d.step, d.attempt, d.error)];
      break;
    }
    case 'SagaCompleted':
    case 'SagaCompensated':
    case 'SagaCompensationAbandoned': {
      p.state = event.type === 'SagaCompleted' ? 'completed' : event.type === 'SagaCompensated' ? 'compensated' : 'compensation_failed';
      if (event.type === 'SagaCompensationAbandoned') p.compensationError = { step: event.data.step, error: event.data.error };
      p.open = null;
      p.currentStep = null;
      p.endedAt = event.time;
      p.durationMs = Date.parse(event.time) - Date.parse(p.startedAt);
      p.history = [...p.history, entry(event.type === 'SagaCompensationAbandoned' ? event.data.step : null, null, event.type === 'SagaCompleted' ? null : event.data.error)];
      break;
    }
    default:
      // Unknown types (a newer version's) leave the state alone.
      break;
  }
  return p;
}

/** The public view of the progress. */
export function sagaStatusOf(progress: SagaProgress): SagaStatus {
  const { actionAttempts: _a, compensationAttempts: _c, uncertainSteps: _u, open: _o, steps: _s, ...status } = progress;
  return status;
}
