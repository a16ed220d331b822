/** Bad input gets its typed error and changes nothing. */
import {
  InvalidArgumentError,
  InvalidEventError,
  StreamDeletedError,
  WrongExpectedVersionError,
  type EventStore,
  type EventToAppend,
} from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { many, orderCreated, snapshotOf, uniqueCategory } from './fixtures.js';

type Attempt = (store: EventStore, category: string) => Promise<unknown>;

const circular: Record<string, unknown> = { name: 'loop' };
circular.self = circular;

const cases: { name: string; error: new (...args: never[]) => Error; field?: string; attempt: Attempt }[] = [
  {
    name: 'an event without a type',
    error: InvalidEventError,
    field: 'events[0].type',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ data: {} } as unknown as EventToAppend]),
  },
  {
    name: 'an event with an empty type',
    error: InvalidEventError,
    field: 'events[0].type',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: '', data: {} }]),
  },
  {
    name: 'an event without data',
    error: InvalidEventError,
    field: 'events[1].data',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [many(1)[0]!, { type: 'X' } as unknown as EventToAppend]),
  },
  { name: 'an empty stream id', error: InvalidArgumentError, attempt: (s) => s.appendToStream('', many(1)) },
  {
    name: 'a 300-character stream id',
    error: InvalidArgumentError,
    attempt: (s, c) => s.appendToStream(`${c}-${'x'.repeat(300)}`, many(1)),
  },
  {
    name: 'a stream id with a control character',
    error: InvalidArgumentError,
    attempt: (s, c) => s.appendToStream(`${c}-a\nb`, many(1)),
  },
  { name: 'no events', error: InvalidArgumentError, attempt: (s, c) => s.appendToStream(`${c}-1`, []) },
  {
    name: 'BigInt data',
    error: InvalidEventError,
    field: 'events[0].data.total',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { total: 10n } }]),
  },
  {
    name: 'circular data',
    error: InvalidEventError,
    field: 'events[0].data.self',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: circular }]),
  },
  {
    name: 'NaN in data',
    error: InvalidEventError,
    field: 'events[0].data.items[1]',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { items: [1, Number.NaN] } }]),
  },
  {
    name: 'a Date in data',
    error: InvalidEventError,
    field: 'events[0].data.at',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { at: new Date() } }]),
  },
  {
    name: 'a function in metadata',
    error: InvalidEventError,
    field: 'events[0].metadata.hook',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, metadata: { hook: () => 1 } }]),
  },
  {
    name: 'an id that is not a UUID',
    error: InvalidEventError,
    field: 'events[0].id',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [orderCreated('o', { id: 'evt_1' })]),
  },
  {
    name: 'a negative expected version',
    error: InvalidArgumentError,
    attempt: (s, c) => s.appendToStream(`${c}-1`, many(1), { expectedVersion: -1 }),
  },
  {
    name: 'an unknown expected version',
    error: InvalidArgumentError,
    attempt: (s, c) =>
      s.appendToStream(`${c}-1`, many(1), { expectedVersion: 'latest' as unknown as 'any' }),
  },
  {
    name: 'a wrong expected version',
    error: WrongExpectedVersionError,
    attempt: (s, c) => s.appendToStream(`${c}-1`, many(1), { expectedVersion: 7n }),
  },
  {
    name: 'an append to a tombstoned stream',
    error: StreamDeletedError,
    attempt: (s, c) => s.appendToStream(`${c}-dead`, many(1)),
  },
];

export function badInputTests(ctx: SuiteContext): void {
  describe('bad input', () => {
    for (const c of cases) {
      it(`rejects ${c.name} with ${c.error.name} and changes nothing`, async () => {
        const store = await ctx.store();
        const category = uniqueCategory();
        await store.appendToStream(`${category}-1`, many(3));
        await store.appendToStream(`${category}-dead`, many(1));
        await store.deleteStream(`${category}-dead`, { hard: true });
        const before = await snapshotOf(store, `${category}-`);
        const infoBefore = await store.streamInfo(`${category}-1`);
        const error = await c.attempt(store, category).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(c.error);
        expect((error as Error).message.length).toBeGreaterThan(10);
        if (c.field) expect((error as InvalidEventError).field).toBe(c.field);
        expect(await snapshotOf(store, `${category}-`)).toBe(before);
        expect(await store.streamInfo(`${category}-1`)).toEqual(infoBefore);
      });
    }
  });
}
