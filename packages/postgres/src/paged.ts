/**
 * An async iterable over pages fetched one at a time. Events are handed out from the page in
 * hand without an async generator's per-item machinery, which costs more than the parsing of
 * the event itself on long reads. Holds at most one page.
 */
export function paged<T>(nextPage: () => Promise<readonly T[] | null>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let page: readonly T[] = [];
      let index = 0;
      let finished = false;
      const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
      return {
        async next(): Promise<IteratorResult<T>> {
          while (index >= page.length) {
            if (finished) return done;
            const fetched = await nextPage();
            if (fetched === null) {
              finished = true;
              return done;
            }
            page = fetched;
            index = 0;
          }
          return { done: false, value: page[index++]! };
        },
        async return(): Promise<IteratorResult<T>> {
          finished = true;
          page = [];
          return done;
        },
      };
    },
  };
}
