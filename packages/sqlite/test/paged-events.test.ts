/** The reads' paged iterator keeps what the async generators it replaced promised. */
import type { RecordedEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import { PagedEvents, type NextPage } from '../src/paged-events.js';

const event = (n: number) => ({ n }) as unknown as RecordedEvent;
const decode = (row: number): RecordedEvent => {
  if (row < 0) throw new Error(`bad row ${row}`);
  return event(row);
};

/** Pages of rows given in advance; counts the calls. */
function pages(...given: (number[] | Error)[]): NextPage<number> & { calls: number } {
  const next = Object.assign(
    async () => {
      next.calls++;
      await new Promise((resolve) => setTimeout(resolve, 1));
      const page = given.shift();
      if (page instanceof Error) throw page;
      return page ?? null;
    },
    { calls: 0 },
  );
  return next;
}

describe('PagedEvents', () => {
  it('reads nothing before the first next(), then every row of every page in order', async () => {
    const next = pages([1, 2], [3], []);
    const read = new PagedEvents(next, decode);
    expect(next.calls).toBe(0);
    const got: unknown[] = [];
    for await (const e of read) got.push(e);
    expect(got).toEqual([event(1), event(2), event(3)]);
    await expect(read.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('answers next() calls made while a page is on its way in order, each with its own event', async () => {
    const read = new PagedEvents(pages([1, 2], [3, 4]), decode);
    const results = await Promise.all([read.next(), read.next(), read.next(), read.next(), read.next()]);
    expect(results).toEqual([
      { done: false, value: event(1) },
      { done: false, value: event(2) },
      { done: false, value: event(3) },
      { done: false, value: event(4) },
      { done: true, value: undefined },
    ]);
  });

  it('rejects the next() that meets a failing page or row, and is done afterwards', async () => {
    const failing = new PagedEvents(pages([1], new Error('page failed'), [2]), decode);
    await expect(failing.next()).resolves.toEqual({ done: false, value: event(1) });
    await expect(failing.next()).rejects.toThrow('page failed');
    await expect(failing.next()).resolves.toEqual({ done: true, value: undefined });

    const badRow = new PagedEvents(pages([1, -1, 2]), decode);
    await expect(badRow.next()).resolves.toEqual({ done: false, value: event(1) });
    await expect(badRow.next()).rejects.toThrow('bad row -1');
    await expect(badRow.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('stops at return() (a for-await break): no further page is fetched', async () => {
    const next = pages([1, 2], [3]);
    const read = new PagedEvents(next, decode);
    for await (const e of read) {
      expect(e).toEqual(event(1));
      break;
    }
    await expect(read.next()).resolves.toEqual({ done: true, value: undefined });
    expect(next.calls).toBe(1);
  });
});
