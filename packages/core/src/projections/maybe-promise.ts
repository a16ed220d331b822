/**
 * Left from when SQLite's read models were synchronous: generators over `step` that ran plainly
 * there and awaited on PostgreSQL. Every store is asynchronous now; this goes once unused.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Inside a `drive`n generator: `const x = yield* step(maybePromise)`.
 * @deprecated Handlers are plain `async` functions on every store: `await` instead. Kept only until
 * the last caller (a PostgreSQL test fixture) moves off it.
 */
export function* step<T>(value: MaybePromise<T>): Generator<unknown, T, unknown> {
  return (yield value) as T;
}

/**
 * @deprecated Handlers are plain `async` functions on every store: `await` instead.
 *
 * Runs the generator to its end. Plain yielded values go straight back in; a promise suspends it
 * until settled (a rejection is thrown at the `yield`). Returns a plain value when no promise
 * was met.
 */
export function drive<R>(generator: Generator<unknown, R, unknown>): MaybePromise<R> {
  return resume(generator, () => generator.next(undefined));
}

function resume<R>(generator: Generator<unknown, R, unknown>, advance: () => IteratorResult<unknown, R>): MaybePromise<R> {
  let result = advance();
  while (!result.done) {
    const value = result.value;
    if (isPromiseLike(value)) {
      return Promise.resolve(value).then(
        (settled) => resume(generator, () => generator.next(settled)),
        (error: unknown) => resume(generator, () => generator.throw(error)),
      );
    }
    result = generator.next(value);
  }
  return result.value;
}
