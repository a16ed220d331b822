/**
 * A short, printable description of any value for an error message. It never throws: error
 * paths get values of every type (BigInt, symbols, cycles, proxies, objects whose `toString`
 * throws), and a message that fails to build turns a typed error into an untyped one.
 */
const MAX_LENGTH = 60;

export function describeValue(value: unknown): string {
  try {
    return clip(describe(value));
  } catch {
    return 'a value that cannot be printed';
  }
}

function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > MAX_LENGTH ? `${value.slice(0, MAX_LENGTH)}…` : value);
    case 'bigint':
      return `${value}n (a BigInt)`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return `a symbol (${value.description ?? ''})`;
    case 'function':
      return 'a function';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return 'an object';
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}

function clip(text: string): string {
  return text.length > MAX_LENGTH + 20 ? `${text.slice(0, MAX_LENGTH + 20)}…` : text;
}
