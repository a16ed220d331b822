/**
 * Replay of a time range of the log into a projection — a read model of what happened between
 * two instants (e.g. sales of one quarter), built once rather than followed live.
 */
import { InvalidArgumentError, SubscriptionFailedError } from '../envelope/errors.js';
import type { Position, RecordedEvent } from '../envelope/event.js';
import type { EventStore } from '../event-store/event-store.js';
import { recordedWithin, toInstant } from '../commands/time-rule.js';
import { applyBatch, HandlerFailure } from './apply-batch.js';
import { prepareProjection } from './prepare.js';
import { ProgressTracker, type ProjectionProgress } from './progress.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionHandle, ReadModelStore } from './read-model-store.js';

export interface ReplayTimeRangeOptions<H extends ProjectionHandle = ProjectionHandle> {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore<H>;
  /** The projection to build; its namespace must be empty unless `replace` is set. */
  readonly projection: AnyProjection<H>;
  /** Events recorded at or after this instant. Default: the start of the log. */
  readonly from?: Date | string;
  /** Events recorded before this instant. Default: up to the head of the log when the replay starts. */
  readonly to?: Date | string;
  /** Drop what the projection's namespace already holds. Default false: such a namespace is refused. */
  readonly replace?: boolean;
  /** Events read per transaction. Default 1000. */
  readonly batchSize?: number;
  readonly onProgress?: (progress: ProjectionProgress) => void;
}

export interface ReplayResult {
  /** Events handed to the projection's handlers. */
  readonly applied: number;
  /** The last log position looked at. */
  readonly position: Position | null;
  readonly progress: ProjectionProgress;
}

/**
 * Applies the events recorded in `[from, to)` to `projection`, up to the head of the log as it is
 * when the replay starts, and makes it the serving version of its name if none serves yet.
 * @throws InvalidArgumentError on a bad range or a namespace that already holds a read model
 * @throws SubscriptionFailedError when a handler throws (nothing of the failing batch is kept)
 */
export async function replayTimeRange<H extends ProjectionHandle>(options: ReplayTimeRangeOptions<H>): Promise<ReplayResult> {
  const { eventStore, readModels, projection } = options;
  const from = options.from === undefined ? undefined : toInstant(options.from, 'from');
  const to = options.to === undefined ? undefined : toInstant(options.to, 'to');
  if (from !== undefined && to !== undefined && from >= to) {
    throw new InvalidArgumentError('time range', `from (${from}) must be before to (${to})`);
  }
  const batchSize = options.batchSize ?? 1_000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
  const { namespace } = projection.namespace;
  const replace = options.replace === true;

  await readModels.transaction(async (tx) => {
    const existing = await tx.getState(namespace);
    if (existing && !replace) {
      throw new InvalidArgumentError('projection', `${namespace} already has a read model; replay into a new name or version, or pass replace: true`);
    }
    if (existing) await tx.dropNamespace(namespace);
    await prepareProjection(tx, projection);
  });

  const head = await eventStore.headPosition();
  const tracker = new ProgressTracker(projection.namespace, null);
  let checkpoint: Position | null = null;
  let applied = 0;
  while (checkpoint === null || checkpoint < head) {
    const read: RecordedEvent[] = [];
    for await (const event of eventStore.readAll({ fromPosition: (checkpoint ?? 0n) + 1n, maxCount: batchSize, batchSize, filter: projection.filter })) {
      if (event.position > head) break;
      read.push(event);
    }
    if (read.length === 0) break;
    const selected = read.filter((event) => recordedWithin(event.time, from, to));
    const scanned = read.at(-1)!.position;
    try {
      const expected: Position | null = checkpoint;
      await readModels.transaction((tx) => applyBatch(tx, projection, selected, { expected, checkpoint: scanned }));
    } catch (error) {
      if (error instanceof HandlerFailure) {
        const event = selected[error.index]!;
        throw new SubscriptionFailedError(namespace, event.position, 1, { cause: error.cause });
      }
      throw error;
    }
    checkpoint = scanned;
    applied += selected.length;
    options.onProgress?.(tracker.report(checkpoint, head, false, read.length));
    if (read.length < batchSize) break;
  }
  const progress = tracker.report(checkpoint ?? head, head, true);
  options.onProgress?.(progress);
  return { applied, position: checkpoint, progress };
}
