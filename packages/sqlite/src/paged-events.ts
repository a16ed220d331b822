/**
 * The async iterator of a read, page by page. An async generator costs a resumption and an extra
 * await per event (measured: 2.17 against 1.95 µs per event for a whole read and fold of the
 * bench payload); this hands out each row of the page in hand as an already-resolved promise and
 * awaits only between pages. It behaves as the generators did: nothing runs before the first
 * `next()`, whose promise carries the read's checks; calls made while a page is on its way are
 * answered in order; after an error or `return()` it is done.
 */

/** The read's next page of rows: null once there is none left. The first call does the read's checks. */
export type NextPage<Row> = () => Promise<readonly Row[] | null>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export class PagedEvents<Row, T> implements AsyncIterableIterator<T> {
  readonly #nextPage: NextPage<Row>;
  readonly #decode: (row: Row) => T;
  #rows: readonly Row[] = [];
  #index = 0;
  #finished = false;
  #fetching: Promise<IteratorResult<T>> | undefined;

  constructor(nextPage: NextPage<Row>, decode: (row: Row) => T) {
    this.#nextPage = nextPage;
    this.#decode = decode;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#fetching) {
      const after = (): Promise<IteratorResult<T>> => this.next();
      return this.#fetching.then(after, after);
    }
    if (this.#index < this.#rows.length) {
      const row = this.#rows[this.#index++]!;
      try {
        return Promise.resolve({ done: false, value: this.#decode(row) });
      } catch (error) {
        this.#finish();
        return Promise.reject(error);
      }
    }
    if (this.#finished) return Promise.resolve(DONE);
    const fetching = this.#fetch();
    this.#fetching = fetching;
    return fetching;
  }

  return(): Promise<IteratorResult<T>> {
    this.#finish();
    return Promise.resolve(DONE);
  }

  async #fetch(): Promise<IteratorResult<T>> {
    try {
      const rows = await this.#nextPage();
      if (this.#finished) return DONE;
      if (rows === null || rows.length === 0) {
        this.#finish();
        return DONE;
      }
      this.#rows = rows;
      this.#index = 1;
      return { done: false, value: this.#decode(rows[0]!) };
    } catch (error) {
      this.#finish();
      throw error;
    } finally {
      this.#fetching = undefined;
    }
  }

  #finish(): void {
    this.#finished = true;
    this.#rows = [];
    this.#index = 0;
  }
}
