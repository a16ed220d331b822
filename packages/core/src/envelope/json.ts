/** JSON checks on event data and metadata, so what is read back is what was written. */
import { describeValue } from './describe-value.js';
import { InvalidEventError } from './errors.js';
import { unstorableText } from './text.js';

/**
 * Deepest nesting of objects and arrays in event data or metadata (`{}` is 1, `{ a: [] }` is 2).
 * It is the default limit of common JSON readers (System.Text.Json's `MaxDepth`), far below
 * where any store or JavaScript's own recursion gives out (SQLite's JSON functions stop at
 * 1,000; `JSON.parse` and PostgreSQL's parser at a few thousand, depending on the stack), so
 * every store and every consumer accepts the same events.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Largest event: its data and metadata as JSON, in UTF-8 bytes. EventStoreDB and MongoDB draw
 * the line at the same 16 MiB; an event is a fact, not a file, and every reader of the log
 * holds whole batches of events in memory.
 */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/** What a JSON check found out about a value beyond its being valid. */
export interface JsonCheck {
  /** Whether the JSON text differs from the value (`-0`, properties set to undefined): read the text back. */
  readonly normalized: boolean;
  /** A lower bound of the value's size as JSON in UTF-8 bytes. */
  readonly minBytes: number;
  /** An upper bound of the same (every character escaped, every number at its longest): what lets a caller skip writing the text. */
  readonly maxBytes: number;
}

export interface JsonCheckOptions {
  /** Refuse the value once its JSON surely holds more bytes than this. Default `MAX_EVENT_BYTES`. */
  readonly maxBytes?: number;
  /** The field a size error names (e.g. the whole event). Default: the path. */
  readonly sizeField?: string;
  /**
   * Check every string and key against `unstorableText`. Default true; `prepareAppend` turns it
   * off and scans the JSON text once instead (`assertStorableJson`), which is cheaper.
   */
  readonly text?: boolean;
}

/**
 * Throws `InvalidEventError` naming the first value under `path` that does not survive a JSON
 * round trip unchanged: BigInt, functions, symbols, non-finite numbers, cycles, objects that are
 * not plain (Date, Map, class instances), symbol keys, text no store can keep (see
 * `unstorableText`), nesting deeper than `MAX_JSON_DEPTH`, or more than `maxBytes` of JSON.
 * Never overflows the stack, however deep the value.
 */
export function assertJson(value: unknown, path: string, options: JsonCheckOptions = {}): void {
  checkJson(value, path, options);
}

/** `assertJson`, also saying whether the JSON text normalizes the value and how big it is at least. */
export function checkJson(value: unknown, path: string, options: JsonCheckOptions = {}): JsonCheck {
  const check = runWalk(value, path, -1, '', options.maxBytes ?? MAX_EVENT_BYTES, options.sizeField ?? path, options.text ?? true);
  return { normalized: check.normalized, minBytes: check.minBytes, maxBytes: check.maxBytes };
}

/**
 * `checkJson` for `events[index].part` with the event (`events[index]`) as the size field, for
 * `prepareAppend`: the three names are spelt out only for an error, since building them was a
 * tenth of the checks' cost per event. The answer is overwritten by the next check: read it at once.
 */
export function checkEventJson(value: unknown, index: number, part: string, maxBytes: number, text: boolean): JsonCheck {
  return runWalk(value, 'events', index, part, maxBytes, undefined, text);
}

// One walk state serves every check that passes; a check started while one runs (from a getter)
// gets its own, and one that throws leaves its state behind for the garbage collector.
let spareWalk: Walk | undefined;

function runWalk(value: unknown, root: string, index: number, part: string, maxBytes: number, sizeField: string | undefined, text: boolean): Walk {
  const walk = spareWalk ?? new Walk();
  spareWalk = undefined;
  walk.start(root, index, part, maxBytes, sizeField, text);
  walk.value(value, 0);
  walk.finish();
  spareWalk = walk;
  return walk;
}

// JSON.stringify writes U+0000 and lone surrogates as escapes, so one scan of the text finds
// every candidate; a literal backslash-u in a string may match too, and the closer look clears it.
const SUSPECT_JSON = /\\u0000|\\ud[89a-f]/i;

// JSON.stringify writes every escape in lowercase, so text without a backslash-u holds none: a
// memchr-like includes() says so five to ten times faster than the case-blind regex (measured on
// 220-byte and 1 KB texts), and the regex only looks at the rest.
function suspectJson(json: string): boolean {
  return json.includes('\\u') && SUSPECT_JSON.test(json);
}

/**
 * Throws `InvalidEventError` naming the first string or key under `path` that `unstorableText`
 * refuses. `json` is `JSON.stringify(value)`: it is scanned once, and `value` walked only on a hit.
 */
export function assertStorableJson(value: unknown, json: string, path: string): void {
  if (suspectJson(json)) checkJson(value, path, { maxBytes: Infinity });
}

/** `assertStorableJson` for `events[index].part`, the name spelt out only for an error. */
export function assertStorableEventJson(value: unknown, json: string, index: number, part: string): void {
  if (suspectJson(json)) checkEventJson(value, index, part, Infinity, true);
}

/**
 * The throw for a value that is too large once it is written as JSON: `checkJson` counts a lower
 * bound, callers measure the text with this.
 */
export function tooLarge(field: string, maxBytes: number, bytes?: number): InvalidEventError {
  const size = bytes === undefined ? 'more than' : `${bytes} bytes,`;
  return new InvalidEventError(
    field,
    `is ${size} ${maxBytes} bytes (${formatBytes(maxBytes)}) as JSON; keep large content out of events and store a reference to it`,
  );
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

class Walk implements JsonCheck {
  /** Keys from the root to the value in hand; the path is only spelt out for an error. */
  readonly #keys: (string | number)[] = [];
  readonly #ancestors: object[] = [];
  /** How many of the first keys belong to the root's name (`events[0].data`: two). */
  #rootKeys = 0;
  root = '';
  /** Refuse the value once its JSON surely holds more bytes than this. */
  limit = 0;
  /** The field a size error names, or undefined for the root's first key (the event). */
  sizeField: string | undefined = undefined;
  checkText = true;
  normalized = false;
  bytes = 0;
  upper = 0;

  get minBytes(): number {
    return this.bytes;
  }

  get maxBytes(): number {
    return this.upper;
  }

  start(root: string, index: number, part: string, maxBytes: number, sizeField: string | undefined, checkText: boolean): void {
    this.root = root;
    this.limit = maxBytes;
    this.sizeField = sizeField;
    this.checkText = checkText;
    this.normalized = false;
    this.bytes = 0;
    this.upper = 0;
    if (index < 0) {
      this.#rootKeys = 0;
    } else {
      this.#keys.push(index, part);
      this.#rootKeys = 2;
    }
  }

  /** After a walk that passed: only the root's keys are left (pop, since setting length is a runtime call). */
  finish(): void {
    for (let i = 0; i < this.#rootKeys; i++) this.#keys.pop();
  }

  value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.upper += 6 * value.length + 3;
        this.#count(value.length + 2);
        this.#text(value, undefined);
        return;
      case 'boolean':
        this.upper += 6;
        this.#count(4);
        return;
      case 'number':
        if (!Number.isFinite(value)) this.#fail(`is ${value}, which JSON cannot hold`);
        if (value === 0 && 1 / value < 0) this.normalized = true; // JSON writes -0 as 0
        this.upper += 27; // the longest, e.g. '-0.0000012345678901234567', and a comma
        this.#count(1);
        return;
      case 'bigint':
        return this.#fail('is a BigInt, which JSON cannot hold; store it as a string');
      case 'undefined':
        return this.#fail('is undefined; use null or leave the property out');
      case 'function':
      case 'symbol':
        return this.#fail(`is a ${typeof value}, which JSON cannot hold`);
    }
    if (value === null) {
      this.upper += 5;
      this.#count(4);
      return;
    }
    const object = value as object;
    if (depth >= MAX_JSON_DEPTH) {
      throw new InvalidEventError(this.#pathTo(this.#rootKeys), `is nested more than ${MAX_JSON_DEPTH} levels deep (at ${this.#path()}); flatten it`);
    }
    if (this.#ancestors.includes(object)) this.#fail('refers back to itself (circular structure)');
    this.#ancestors.push(object);
    if (Array.isArray(object)) {
      if (Object.getPrototypeOf(object) !== Array.prototype) this.#fail(`is ${describeValue(object)}, not a plain array`);
      this.upper += 3 + object.length;
      this.#count(2 + object.length);
      for (let i = 0; i < object.length; i++) {
        this.#keys.push(i);
        this.value(object[i], depth + 1);
        this.#keys.pop();
      }
    } else {
      const proto: unknown = Object.getPrototypeOf(object);
      if (proto !== Object.prototype && proto !== null) {
        const hint = object instanceof Date ? '; store it as an ISO string (toISOString())' : '';
        this.#fail(`is ${describeValue(object)}, not a plain JSON object${hint}`);
      }
      if (Object.getOwnPropertySymbols(object).length > 0) this.#fail('has symbol keys, which JSON leaves out');
      this.upper += 3;
      this.#count(2);
      for (const key in object) {
        const child = (object as Record<string, unknown>)[key];
        // An undefined property is simply left out by JSON, as TypeScript's optional fields expect.
        if (child === undefined) {
          this.normalized = true;
          continue;
        }
        this.upper += 6 * key.length + 4;
        this.#count(key.length + 4);
        this.#text(key, key);
        this.#keys.push(key);
        this.value(child, depth + 1);
        this.#keys.pop();
      }
    }
    this.#ancestors.pop();
  }

  #text(text: string, key: string | undefined): void {
    if (!this.checkText) return;
    const reason = unstorableText(text);
    if (reason === undefined) return;
    if (key === undefined) this.#fail(reason);
    // JSON.stringify spells the key with escapes, so the field names it printably.
    throw new InvalidEventError(`${this.#path()} key ${JSON.stringify(key)}`, reason);
  }

  #count(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.limit) throw tooLarge(this.sizeField ?? this.#pathTo(1), this.limit);
  }

  #path(): string {
    return this.#pathTo(this.#keys.length);
  }

  /** The root and the first `count` keys, spelt out. */
  #pathTo(count: number): string {
    let path = this.root;
    for (let i = 0; i < count; i++) {
      const key = this.#keys[i]!;
      path += typeof key === 'number' ? `[${key}]` : `.${key}`;
    }
    return path;
  }

  #fail(reason: string): never {
    throw new InvalidEventError(this.#path(), reason);
  }
}
