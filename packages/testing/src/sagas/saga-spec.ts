/**
 * Given/when/then for orchestrated sagas: the definition runs for real (on a memory store unless
 * one is given), and the spec asserts its outcome from the saga log — the state, the steps
 * completed, the compensations in their order, the failure.
 *
 * @example
 * const outcome = await sagaSpec(orderSaga(services)).when('order-1', input);
 * outcome.thenCompensated({ failedStep: 'take-payment', compensated: ['reserve-stock', 'create-order'] });
 */
import { MemoryEventStore, SagaOrchestrator, type EventStore, type JsonValue, type SagaDefinition, type SagaState, type SagaStatus, type Transport } from '@eventloom/core';
import { expect } from 'vitest';

export interface SagaThen {
  readonly status: SagaStatus;
  thenCompleted(steps?: readonly string[]): void;
  thenCompensated(expected: { readonly failedStep: string; readonly compensated: readonly string[]; readonly error?: string | RegExp }): void;
  thenCompensationFailed(step: string, error?: string | RegExp): void;
  thenState(state: SagaState): void;
  /** The log's event types in order (e.g. to see retries). */
  thenHistory(types: readonly string[]): void;
}

/** `transport`: where the steps' `c.send` goes (a `MemoryTransport` with the services' consumers, in a test). */
export function sagaSpec<I extends JsonValue>(saga: SagaDefinition<I>, options: { readonly store?: EventStore; readonly transport?: Pick<Transport, 'send'> } = {}) {
  return {
    async when(sagaId: string, input: I): Promise<SagaThen> {
      const store = options.store ?? new MemoryEventStore();
      const status = await new SagaOrchestrator({ store, saga, logger: false, ...(options.transport ? { transport: options.transport } : {}) }).execute(sagaId, input);
      return {
        status,
        thenCompleted(steps) {
          expect(status.state, `saga failed at ${status.failure?.step}: ${status.failure?.error}`).toBe('completed');
          if (steps) expect(status.completedSteps).toEqual(steps);
        },
        thenCompensated(expected) {
          expect(status.state).toBe('compensated');
          expect(status.failure?.step).toBe(expected.failedStep);
          expect(status.compensatedSteps).toEqual(expected.compensated);
          if (expected.error !== undefined) expect(status.failure?.error).toMatch(expected.error);
        },
        thenCompensationFailed(step, error) {
          expect(status.state).toBe('compensation_failed');
          expect(status.compensationError?.step).toBe(step);
          if (error !== undefined) expect(status.compensationError?.error).toMatch(error);
        },
        thenState(state) {
          expect(status.state).toBe(state);
        },
        thenHistory(types) {
          expect(status.history.map((h) => h.type)).toEqual(types);
        },
      };
    },
  };
}
