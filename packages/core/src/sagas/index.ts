/** Sagas: the orchestrator and its log, process managers, durable timers, semantic locks. */
export { systemClock, VirtualClock, type Clock } from './clock.js';
export { sagaIdempotencyKey, derivedId, type SagaActionKind } from './idempotency.js';
export { defineSaga, type SagaDefinition, type SagaRetryPolicy, type SagaStep, type SagaStepContext } from './saga-definition.js';
export {
  sagaStreamId,
  SAGA_LOG_EVENT_TYPES,
  TERMINAL_SAGA_STATES,
  type SagaHistoryEntry,
  type SagaLogEvent,
  type SagaState,
  type SagaStatus,
} from './saga-log.js';
export { SagaOrchestrator, type SagaOrchestratorOptions } from './orchestrator.js';
export { TimerService, type DueTimer, type TimerDue, type TimerEvent, type TimerInfo, type TimerServiceOptions, type TimerState } from './timers.js';
export { SemanticLocks, type AcquireOptions, type LockEvent, type LockInfo } from './semantic-lock.js';
export {
  ProcessManager,
  type LateMessagePolicy,
  type ProcessInstance,
  type ProcessManagerDefinition,
  type ProcessManagerOptions,
  type ProcessMessage,
  type ProcessOutcome,
  type ProcessReaction,
  type ProcessTimerFired,
} from './process-manager.js';
