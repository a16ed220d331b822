/**
 * Where a projection version keeps its read model. Each (name, version) pair writes into its own
 * namespace, so a new version can be built beside the one that is serving (blue/green).
 */
import { InvalidArgumentError } from '../envelope/errors.js';

export const MAX_PROJECTION_NAME_LENGTH = 100;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** One version of one projection, and the namespace its read model lives in. */
export interface ProjectionNamespace {
  readonly name: string;
  readonly version: number;
  /** `name@version`, e.g. `order-summary@2`. */
  readonly namespace: string;
}

export function assertProjectionName(name: unknown, argument = 'projection name'): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_PROJECTION_NAME_LENGTH || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      argument,
      `must be 1 to ${MAX_PROJECTION_NAME_LENGTH} characters of letters, digits, '_', '.', '-' (starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  }
}

export function assertProjectionVersion(version: unknown, argument = 'projection version'): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new InvalidArgumentError(argument, `must be a positive integer, got ${String(version)}`);
  }
}

export function projectionNamespace(name: string, version: number): ProjectionNamespace {
  assertProjectionName(name);
  assertProjectionVersion(version);
  return { name, version, namespace: `${name}@${version}` };
}
