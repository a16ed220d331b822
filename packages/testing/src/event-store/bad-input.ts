/** Bad input gets its typed error and changes nothing. */
import {
  collect,
  InvalidArgumentError,
  MAX_EVENT_BYTES,
  MAX_JSON_DEPTH,
  InvalidEventError,
  StreamDeletedError,
  WrongExpectedVersionError,
  type EventStore,
  type EventToAppend,
  type LogFilter,
  type SubscribeOptions,
} from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { many, orderCreated, snapshotOf, uniqueCategory } from './fixtures.js';

type Attempt = (store: EventStore, category: string) => Promise<unknown>;

const circular: Record<string, unknown> = { name: 'loop' };
circular.self = circular;

/** `{ a: { a: … { a: 1 } } }` with `levels` objects. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

async function drain(iterable: AsyncIterable<unknown>): Promise<unknown> {
  return collect(iterable);
}

async function subscribeWith(store: EventStore, options: Record<string, unknown>): Promise<void> {
  const subscription = store.subscribe({ handler: () => undefined, ...options } as unknown as SubscribeOptions);
  return subscription.stop();
}

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
    name: 'a BigInt event id',
    error: InvalidEventError,
    field: 'events[0].id',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, id: 10n } as unknown as EventToAppend]),
  },
  {
    name: 'a circular expected version',
    error: InvalidArgumentError,
    field: 'expectedVersion',
    attempt: (s, c) => s.appendToStream(`${c}-1`, many(1), { expectedVersion: circular as unknown as 'any' }),
  },
  {
    name: 'an expected version of 2^63',
    error: InvalidArgumentError,
    field: 'expectedVersion',
    attempt: (s, c) => s.appendToStream(`${c}-1`, many(1), { expectedVersion: 2n ** 63n }),
  },
  {
    name: 'a schema version of 2^31',
    error: InvalidEventError,
    field: 'events[0].schemaVersion',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, schemaVersion: 2 ** 31 }]),
  },
  {
    name: `data nested ${MAX_JSON_DEPTH + 1} levels deep`,
    error: InvalidEventError,
    field: 'events[0].data',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: nested(MAX_JSON_DEPTH + 1) }]),
  },
  {
    name: 'data nested 100,000 levels deep',
    error: InvalidEventError,
    field: 'events[0].data',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: nested(100_000) }]),
  },
  {
    name: 'metadata nested too deep',
    error: InvalidEventError,
    field: 'events[0].metadata',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, metadata: { deep: nested(MAX_JSON_DEPTH) } }]),
  },
  {
    name: 'an event over the size limit',
    error: InvalidEventError,
    field: 'events[0]',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }]),
  },
  {
    name: 'an event whose multi-byte text is over the size limit',
    error: InvalidEventError,
    field: 'events[0]',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { blob: 'é'.repeat(MAX_EVENT_BYTES / 2 + 1) } }]),
  },
  {
    name: 'an event of 600 million characters',
    error: InvalidEventError,
    field: 'events[0]',
    attempt: (s, c) => {
      const part = 'x'.repeat(200_000_000);
      return s.appendToStream(`${c}-1`, [{ type: 'X', data: [part, part, part] }]);
    },
  },
  {
    name: 'a lone surrogate in a stream id',
    error: InvalidArgumentError,
    field: 'streamId',
    attempt: (s, c) => s.appendToStream(`${c}-s-\uD800`, many(1)),
  },
  {
    name: 'a lone surrogate in a type',
    error: InvalidEventError,
    field: 'events[0].type',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X\uDC00', data: {} }]),
  },
  {
    name: 'a lone surrogate in a correlation id',
    error: InvalidEventError,
    field: 'events[0].correlationId',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, correlationId: 'c-\uD800' }]),
  },
  {
    name: 'a lone surrogate in a causation id',
    error: InvalidEventError,
    field: 'events[0].causationId',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, causationId: '\uDFFFc' }]),
  },
  {
    name: 'a lone surrogate in a data string',
    error: InvalidEventError,
    field: 'events[0].data.name',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { name: 'a\uD800b' } }]),
  },
  {
    name: 'a lone surrogate in a data key',
    error: InvalidEventError,
    field: 'events[0].data key "k\\ud800"',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { 'k\uD800': 1 } }]),
  },
  {
    name: 'U+0000 in a data string',
    error: InvalidEventError,
    field: 'events[0].data.list[0]',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { list: ['a\u0000b'] } }]),
  },
  {
    name: 'U+0000 in a metadata string',
    error: InvalidEventError,
    field: 'events[0].metadata.userId',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: {}, metadata: { userId: '\u0000' } }]),
  },
  {
    name: 'U+0000 in a type',
    error: InvalidEventError,
    field: 'events[0].type',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X\u0000', data: {} }]),
  },
  {
    name: 'a symbol-keyed property in data',
    error: InvalidEventError,
    field: 'events[0].data',
    attempt: (s, c) => s.appendToStream(`${c}-1`, [{ type: 'X', data: { [Symbol('k')]: 1 } }]),
  },
  {
    name: 'readAll from position 2^64',
    error: InvalidArgumentError,
    field: 'fromPosition',
    attempt: (s) => drain(s.readAll({ fromPosition: 2n ** 64n })),
  },
  {
    name: 'readAll from a negative position',
    error: InvalidArgumentError,
    field: 'fromPosition',
    attempt: (s) => drain(s.readAll({ fromPosition: -1n })),
  },
  {
    name: 'readAll from a number position',
    error: InvalidArgumentError,
    field: 'fromPosition',
    attempt: (s) => drain(s.readAll({ fromPosition: 1 as unknown as bigint })),
  },
  {
    name: 'readStream from version 2^63',
    error: InvalidArgumentError,
    field: 'fromVersion',
    attempt: (s, c) => drain(s.readStream(`${c}-1`, { fromVersion: 2n ** 63n })),
  },
  {
    name: 'a null filter',
    error: InvalidArgumentError,
    field: 'filter',
    attempt: (s) => drain(s.readAll({ filter: null as unknown as LogFilter })),
  },
  {
    name: 'an empty list of stream prefixes (none, or all?)',
    error: InvalidArgumentError,
    field: 'filter.streamPrefixes',
    attempt: (s) => drain(s.readAll({ filter: { streamPrefixes: [] } })),
  },
  {
    name: 'readCategory of a symbol',
    error: InvalidArgumentError,
    field: 'category',
    attempt: async (s) => drain(s.readCategory(Symbol('c') as unknown as string)),
  },
  {
    name: 'readCategory of U+0000',
    error: InvalidArgumentError,
    field: 'category',
    attempt: async (s) => drain(s.readCategory('\u0000')),
  },
  {
    name: 'readCategory with null options',
    error: InvalidArgumentError,
    field: 'options',
    attempt: async (s, c) => drain(s.readCategory(c, null as unknown as undefined)),
  },
  {
    name: 'U+0000 in a filter type',
    error: InvalidArgumentError,
    field: 'filter.eventTypes',
    attempt: (s) => drain(s.readAll({ filter: { eventTypes: ['\u0000'] } })),
  },
  {
    name: 'null read options',
    error: InvalidArgumentError,
    field: 'options',
    attempt: (s) => drain(s.readAll(null as unknown as undefined)),
  },
  {
    name: 'null stream read options',
    error: InvalidArgumentError,
    field: 'options',
    attempt: (s, c) => drain(s.readStream(`${c}-1`, null as unknown as undefined)),
  },
  {
    name: 'subscribe with a symbol as poll interval',
    error: InvalidArgumentError,
    field: 'pollIntervalMs',
    attempt: (s) => subscribeWith(s, { pollIntervalMs: Symbol('ms') }),
  },
  {
    name: 'stream metadata with an object without prototype as maxAgeSeconds',
    error: InvalidArgumentError,
    field: 'metadata.maxAgeSeconds',
    attempt: (s, c) => s.setStreamMetadata(`${c}-1`, { maxAgeSeconds: Object.create(null) as number }),
  },
  {
    name: 'a lone surrogate in a filter prefix',
    error: InvalidArgumentError,
    field: 'filter.streamPrefixes',
    attempt: (s) => drain(s.readAll({ filter: { streamPrefixes: ['a\uD800'] } })),
  },
  {
    name: 'subscribe with a null filter',
    error: InvalidArgumentError,
    field: 'filter',
    attempt: (s) => subscribeWith(s, { filter: null }),
  },
  {
    name: 'subscribe from position 2^63',
    error: InvalidArgumentError,
    field: 'fromPosition',
    attempt: (s) => subscribeWith(s, { fromPosition: 2n ** 63n }),
  },
  {
    name: 'a checkpoint of 2^63',
    error: InvalidArgumentError,
    field: 'position',
    attempt: (s, c) => s.checkpoints.store(`${c}-sub`, 2n ** 63n),
  },
  {
    name: 'an undefined checkpoint',
    error: InvalidArgumentError,
    field: 'position',
    attempt: (s, c) => s.checkpoints.store(`${c}-sub`, undefined as unknown as bigint),
  },
  {
    name: 'a checkpoint with a lone surrogate in its id',
    error: InvalidArgumentError,
    field: 'subscriptionId',
    attempt: (s) => s.checkpoints.store('sub-\uD800', 1n),
  },
  {
    name: 'loading a checkpoint with an id that is not a string',
    error: InvalidArgumentError,
    field: 'subscriptionId',
    attempt: (s) => s.checkpoints.load(7 as unknown as string),
  },
  {
    name: 'an append to a tombstoned stream',
    error: StreamDeletedError,
    attempt: (s, c) => s.appendToStream(`${c}-dead`, many(1)),
  },
];

function fieldOf(error: unknown): string | undefined {
  if (error instanceof InvalidEventError) return error.field;
  if (error instanceof InvalidArgumentError) return error.argument;
  return undefined;
}

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
        await store.checkpoints.store(`${category}-sub`, 1n);
        const error = await c.attempt(store, category).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(c.error);
        expect((error as Error).message.length).toBeGreaterThan(10);
        if (c.field) expect(fieldOf(error)).toBe(c.field);
        expect(await snapshotOf(store, `${category}-`)).toBe(before);
        expect(await store.streamInfo(`${category}-1`)).toEqual(infoBefore);
        expect(await store.checkpoints.load(`${category}-sub`)).toBe(1n);
      });
    }
  });
}
