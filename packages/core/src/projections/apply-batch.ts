/**
 * One batch of events applied to a read model in one transaction, together with the checkpoint.
 * The checkpoint is compared before anything is applied: if it is not where this runner left it,
 * someone else applied events meanwhile and the batch is abandoned — so no event is applied twice,
 * even when two runners briefly both believe they hold the lease.
 */
import type { Position, RecordedEvent } from '../envelope/event.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionHandle, ProjectionState, ReadModelTransaction } from './read-model-store.js';

/** A handler threw on `events[index]`; the transaction was rolled back. */
export class HandlerFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`handler failed on event #${index}`);
  }
}

/** The stored checkpoint is not the one the runner expected; nothing was applied. */
export class CheckpointMoved extends Error {
  constructor(readonly actual: Position | null | 'missing') {
    super(`checkpoint moved to ${String(actual)}`);
  }
}

export interface BatchOptions {
  /** The checkpoint the runner last saw; the batch applies only on top of it. */
  readonly expected: Position | null;
  /** Where the checkpoint moves; defaults to the last event's position. */
  readonly checkpoint?: Position;
}

/** The transaction body: check the checkpoint, apply `events` in order, move the checkpoint. */
export async function applyBatch<H extends ProjectionHandle>(
  tx: ReadModelTransaction<H>,
  projection: AnyProjection<H>,
  events: readonly RecordedEvent[],
  options: BatchOptions,
): Promise<ProjectionState> {
  const { namespace } = projection.namespace;
  const state = await tx.getState(namespace);
  if (!state) throw new CheckpointMoved('missing');
  if (state.checkpoint !== options.expected) throw new CheckpointMoved(state.checkpoint);
  const handle = tx.handle(projection.namespace);
  for (let i = 0; i < events.length; i++) {
    try {
      await projection.apply(events[i]!, handle);
    } catch (cause) {
      throw new HandlerFailure(i, cause);
    }
  }
  const checkpoint = options.checkpoint ?? events.at(-1)?.position ?? state.checkpoint;
  if (checkpoint !== null && checkpoint !== state.checkpoint) await tx.setCheckpoint(namespace, checkpoint);
  let failure = state.failure;
  if (failure && checkpoint !== null && checkpoint >= failure.position) {
    await tx.setFailure(namespace, null);
    failure = null;
  }
  return { ...state, checkpoint, failure };
}
