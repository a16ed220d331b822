/**
 * Readies a projection version in a transaction: creates its bookkeeping and runs its `init` the
 * first time, and makes it the serving version of its name when none serves yet.
 */
import type { Position } from '../envelope/event.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionFailure, ProjectionHandle, ReadModelTransaction } from './read-model-store.js';

export interface PreparedProjection {
  readonly checkpoint: Position | null;
  /** The failure it was stopped on before; cleared by preparing, since the caller takes it up again. */
  readonly failure: ProjectionFailure | null;
  /** The serving version of the projection's name, after preparing. */
  readonly active: number;
  /** True when this call made the projection the serving version. */
  readonly activated: boolean;
}

export interface PrepareOptions {
  /**
   * Clear a recorded failure: the caller is about to retry the event (a runner taking the
   * projection up), so waiters elsewhere should wait rather than fail. Default false.
   */
  readonly resume?: boolean;
}

export async function prepareProjection<H extends ProjectionHandle>(
  tx: ReadModelTransaction<H>,
  projection: AnyProjection<H>,
  /** A boolean is the old `synchronous` flag, ignored: handlers are asynchronous on every store. */
  options: PrepareOptions | boolean = {},
): Promise<PreparedProjection> {
  const resume = typeof options === 'object' && options.resume === true;
  const { namespace } = projection.namespace;
  const state = await tx.getState(namespace);
  if (!state) await tx.createState(projection.namespace);
  await tx.prepareCollections(projection.namespace, projection.collections);
  if (!state && projection.init) await projection.init(tx.handle(projection.namespace));
  if (resume && state?.failure) await tx.setFailure(namespace, null);
  const active = await tx.getActiveVersion(projection.name);
  if (active === null) await tx.setActiveVersion(projection.name, projection.version);
  return {
    checkpoint: state?.checkpoint ?? null,
    failure: state?.failure ?? null,
    active: active ?? projection.version,
    activated: active === null,
  };
}
