/** A one-off rebuild outside a running runner: for scripts and the CLI. */
import type { ProjectionProgress } from './progress.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionHandle } from './read-model-store.js';
import { ProjectionRunner, type ProjectionRunnerOptions } from './runner.js';

export interface RebuildProjectionOptions<H extends ProjectionHandle = ProjectionHandle> extends Omit<ProjectionRunnerOptions<H>, 'projections'> {
  readonly projection: AnyProjection<H>;
  readonly onProgress?: (progress: ProjectionProgress) => void;
}

/**
 * Drops the projection's read model and rebuilds it from the start of the log; resolves with the
 * last progress report once it has caught up with the head.
 *
 * @example
 * await rebuildProjection({ eventStore, readModels, projection: orderSummary, onProgress: progressBar() });
 */
export async function rebuildProjection<H extends ProjectionHandle = ProjectionHandle>(options: RebuildProjectionOptions<H>): Promise<ProjectionProgress | null> {
  const { projection, onProgress, ...runnerOptions } = options;
  const runner = new ProjectionRunner<H>({ ...runnerOptions, projections: [projection] });
  return runner.rebuild(projection, onProgress ? { onProgress } : {});
}
