import { StoreClosedError } from '@eventloom/core';

/** A read's `check`: pages of a closed store's read are not handed out. */
export function assertOpen(db: { readonly closed: boolean }): void {
  if (db.closed) throw new StoreClosedError();
}

/**
 * An async iterable over pages fetched one at a time. Events are handed out from the page in
 * hand without an async generator's per-item machinery, which costs more than the parsing of
 * the event itself on long reads.
 *
 * The next page is asked for as soon as a full page arrives, so the server produces it while the
 * caller works through this one (a read of 10,000 events is 20 pages at the default size; without
 * this, server and caller waited for each other at every one). Holds at most two pages. `check`
 * runs before each page is handed out: a page fetched ahead is not handed out after the store
 * closed.
 */
export function paged<T>(nextPage: () => Promise<readonly T[] | null>, check: () => void = () => undefined): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let page: readonly T[] = [];
      let index = 0;
      let finished = false;
      let ahead: Promise<readonly T[] | null> | undefined;
      const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
      const fetchAhead = (): void => {
        const fetching = nextPage();
        // Its failure is the caller's when it reaches that page; unheard until then, not unhandled.
        fetching.catch(() => undefined);
        ahead = fetching;
      };
      return {
        async next(): Promise<IteratorResult<T>> {
          while (index >= page.length) {
            if (finished) return done;
            const fetching = ahead ?? nextPage();
            ahead = undefined;
            const fetched = await fetching;
            if (finished) return done;
            check();
            if (fetched === null) {
              finished = true;
              return done;
            }
            page = fetched;
            index = 0;
            // A short page is the last one: the pager answers null next without a query.
            if (fetched.length > 0) fetchAhead();
          }
          return { done: false, value: page[index++]! };
        },
        async return(): Promise<IteratorResult<T>> {
          finished = true;
          page = [];
          ahead = undefined;
          return done;
        },
      };
    },
  };
}
