/**
 * Readies a projection version in a transaction: creates its bookkeeping and runs its `init` the
 * first time, and makes it the serving version of its name when none serves yet.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Position } from '../event.js';
import { drive, isPromiseLike, step, type MaybePromise } from './maybe-promise.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionFailure, ProjectionHandleBase, ReadModelTransaction } from './read-model-store.js';

export interface PreparedProjection {
  readonly checkpoint: Position | null;
  readonly failure: ProjectionFailure | null;
  /** The serving version of the projection's name, after preparing. */
  readonly active: number;
  /** True when this call made the projection the serving version. */
  readonly activated: boolean;
}

export function prepareProjection<H extends ProjectionHandleBase>(
  tx: ReadModelTransaction<H>,
  projection: AnyProjection<H>,
  synchronous: boolean,
): MaybePromise<PreparedProjection> {
  return drive(
    (function* (): Generator<unknown, PreparedProjection, unknown> {
      const state = yield* step(tx.getState(projection.namespace.namespace));
      if (!state) {
        yield* step(tx.createState(projection.namespace));
        if (projection.init) {
          const initialized = projection.init(tx.handle(projection.namespace));
          if (isPromiseLike(initialized) && synchronous) {
            Promise.resolve(initialized).catch(() => undefined);
            throw new InvalidArgumentError(
              `init of projection ${projection.namespace.namespace}`,
              'returned a promise, but this read-model store runs it inside a synchronous transaction; make it synchronous',
            );
          }
          yield* step(initialized);
        }
      }
      const active = yield* step(tx.getActiveVersion(projection.name));
      if (active === null) yield* step(tx.setActiveVersion(projection.name, projection.version));
      return {
        checkpoint: state?.checkpoint ?? null,
        failure: state?.failure ?? null,
        active: active ?? projection.version,
        activated: active === null,
      };
    })(),
  );
}
