/** Which projection version a reader means: the serving one by default, or one named explicitly. */
import { InvalidArgumentError } from '../envelope/errors.js';
import { assertProjectionName, projectionNamespace, type ProjectionNamespace } from './namespace.js';

export type ReadTarget = string | { readonly name: string; readonly version?: number };

/** Resolves `target` to a namespace; `activeVersion` is asked only when no version is given. */
export function resolveReadTarget(target: ReadTarget, activeVersion: (name: string) => number | null): ProjectionNamespace {
  const name = typeof target === 'string' ? target : target?.name;
  assertProjectionName(name);
  const explicit = typeof target === 'string' ? undefined : target.version;
  if (explicit !== undefined) return projectionNamespace(name, explicit);
  const version = activeVersion(name);
  if (version === null) {
    throw new InvalidArgumentError('projection', `${name} has no serving version yet: start it in a ProjectionRunner (or rebuild it) first`);
  }
  return projectionNamespace(name, version);
}
