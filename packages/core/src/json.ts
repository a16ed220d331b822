/** JSON checks on event data and metadata, so what is read back is what was written. */
import { InvalidEventError } from './errors.js';

/**
 * Throws `InvalidEventError` naming the first value under `path` that does not survive a JSON
 * round trip unchanged: BigInt, functions, symbols, non-finite numbers, cycles, and objects that
 * are not plain (Date, Map, class instances).
 */
export function assertJson(value: unknown, path: string): void {
  walk(value, path, []);
}

function walk(value: unknown, path: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidEventError(path, `is ${value}, which JSON cannot hold`);
      return;
    case 'bigint':
      throw new InvalidEventError(path, 'is a BigInt, which JSON cannot hold; store it as a string');
    case 'undefined':
      throw new InvalidEventError(path, 'is undefined; use null or leave the property out');
    case 'function':
    case 'symbol':
      throw new InvalidEventError(path, `is a ${typeof value}, which JSON cannot hold`);
  }
  if (value === null) return;
  const object = value as object;
  if (ancestors.includes(object)) throw new InvalidEventError(path, 'refers back to itself (circular structure)');
  ancestors.push(object);
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) walk(object[i], `${path}[${i}]`, ancestors);
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      const hint = object instanceof Date ? '; store it as an ISO string (toISOString())' : '';
      throw new InvalidEventError(path, `is a ${kind}, not a plain JSON object${hint}`);
    }
    for (const key in object) {
      const child = (object as Record<string, unknown>)[key];
      // An undefined property is simply left out by JSON, as TypeScript's optional fields expect.
      if (child !== undefined) walk(child, `${path}.${key}`, ancestors);
    }
  }
  ancestors.pop();
}
